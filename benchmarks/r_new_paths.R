# R's side of benchmarks/new_paths.py: the analyses issue 27 added (delayed entry, case
# weights, Breslow and exact ties), timed as r_benchmark.R times (a call looped until a
# sample lasts 0.2 s, median of samples).
#     Rscript benchmarks/r_new_paths.R <data.csv> <repeats>
# Prints step<TAB>median seconds, and coef_<step><TAB>values for the agreement check.
suppressPackageStartupMessages(library(survival))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
repeats <- as.integer(args[2])
X <- as.matrix(d[, paste0("x", 1:6)])
# the timer shared with the other R benchmarks, beside this script
source(file.path(dirname(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))),
                 "r_timing.R"))
show <- function(name, values) cat(name, "\t", paste(sprintf("%.17g", values), collapse = ","),
                                   "\n", sep = "")
se <- function(fit) sqrt(diag(vcov(fit)))
timed("cox_entry", se(coxph(Surv(d$entry, d$time, d$event) ~ X, ties = "efron")))
show("coef_cox_entry", coef(coxph(Surv(d$entry, d$time, d$event) ~ X, ties = "efron")))
# R's robust variance for non-integer weights takes time quadratic in n here (0.35 s at
# 10^4, 33 s at 10^5): not timed past 2 x 10^5
if (nrow(d) <= 2e5) {
  timed("cox_weights", se(coxph(Surv(d$time, d$event) ~ X, weights = d$w, ties = "efron")))
  show("coef_cox_weights", coef(coxph(Surv(d$time, d$event) ~ X, weights = d$w,
                                      ties = "efron")))
}
timed("cox_breslow", se(coxph(Surv(d$time, d$event) ~ X, ties = "breslow")))
show("coef_cox_breslow", coef(coxph(Surv(d$time, d$event) ~ X, ties = "breslow")))
if (nrow(d) <= 1000) {
  timed("cox_exact", se(coxph(Surv(d$time, d$event) ~ X, ties = "exact")))
  show("coef_cox_exact", coef(coxph(Surv(d$time, d$event) ~ X, ties = "exact")))
}
timed("km_entry", quantile(survfit(Surv(d$entry, d$time, d$event) ~ d$group), 0.5))
timed("logrank_entry_w", coxph(Surv(d$entry, d$time, d$event) ~ factor(d$group), weights = d$w,
                               ties = "breslow")$score)
show("coef_logrank_entry_w", coxph(Surv(d$entry, d$time, d$event) ~ factor(d$group),
                                   weights = d$w, ties = "breslow")$score)
timed("harrell_c_entry", { cc <- concordance(Surv(d$entry, d$time, d$event) ~ d$lp,
                                             reverse = TRUE); sqrt(cc$var) })
show("coef_harrell_c_entry", coef(concordance(Surv(d$entry, d$time, d$event) ~ d$lp,
                                              reverse = TRUE)))
