# R side of benchmarks/run_benchmarks.py: the same steps on the same data, timed in R.
#
#     Rscript benchmarks/r_benchmark.R <data.csv> <repeats> <boot> [all | api]
#
# "api": only the public calls run_benchmarks.api_calls times, as an R user writes
# them on a data frame (api_<name>); "all" (the default): every step.
# <data.csv> has time, time_tied, event, group, surv36 (a Cox model's S(36 | x)), the
# six design columns x1..x6, cr_time, cause (1 progression, 2 death first), and
# entry_tied (whole-month delayed entry) and w (case weights), written
# by run_benchmarks.py. Prints one line per step: step<TAB>median seconds, and the
# fitted coefficients (coef_<step><TAB>comma-separated) for the agreement check.
suppressPackageStartupMessages(library(survival))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
repeats <- as.integer(args[2])
boot <- as.integer(args[3])
only <- if (length(args) >= 4) args[4] else "all"
X <- as.matrix(d[, paste0("x", 1:6)])

# the timer shared with the other R benchmarks, beside this script
source(file.path(dirname(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))),
                 "r_timing.R"))
# The public calls as a user writes them, each beside run_benchmarks.api_calls:
# curves and medians by group, cox.zph of the four-term model, the cumulative incidence
# read at 12, 24 and 36 months, Gray's test, Harrell's C of the Cox linear predictor.
api_calls <- function(d) {
  u <- d
  u$group <- factor(u$group)
  u$grade <- factor(ifelse(u$x4 == 1, "G3", ifelse(u$x3 == 1, "G2", "G1")))
  u$cr_tied <- ceiling(u$cr_time)
  u$fcause <- factor(u$cause, 0:2, labels = c("censor", "progression", "death"))
  u$lp <- drop(X %*% coef(coxph(Surv(u$time, u$event) ~ X, ties = "efron")))
  fit4 <- coxph(Surv(time, event) ~ group + grade + x5 + x6, data = u, ties = "efron")
  timed("api_km", quantile(survfit(Surv(time_tied, event) ~ group, data = u), 0.5))
  timed("api_zph", cox.zph(fit4, transform = "km"))
  timed("api_aj", summary(survfit(Surv(cr_tied, fcause) ~ group, data = u),
                          times = c(12, 24, 36)))
  if (requireNamespace("cmprsk", quietly = TRUE)) {
    timed("api_gray", cmprsk::cuminc(u$cr_tied, u$cause, u$group))
  }
  timed("api_harrell", concordance(Surv(time, event) ~ lp, data = u, reverse = TRUE))
}
if (only == "api") {
  api_calls(d)
  quit(save = "no")
}
timed("cox_continuous", { fit <- coxph(Surv(d$time, d$event) ~ X, ties = "efron"); sqrt(diag(vcov(fit))) })
timed("cox_tied", { fit <- coxph(Surv(d$time_tied, d$event) ~ X, ties = "efron"); sqrt(diag(vcov(fit))) })
coef_line <- function(name, fit) cat(name, "\t", paste(sprintf("%.17g", coef(fit)), collapse = ","), "\n", sep = "")
coef_line("coef_cox_continuous", coxph(Surv(d$time, d$event) ~ X, ties = "efron"))
coef_line("coef_cox_tied", coxph(Surv(d$time_tied, d$event) ~ X, ties = "efron"))
# delayed entry (counting process); non-integer case weights, whose robust SE R reports
timed("cox_entry", { fit <- coxph(Surv(d$entry_tied, d$time_tied, d$event) ~ X, ties = "efron"); sqrt(diag(vcov(fit))) })
timed("cox_weights", { fit <- coxph(Surv(d$time_tied, d$event) ~ X, weights = d$w, ties = "efron"); sqrt(diag(vcov(fit))) })
coef_line("coef_cox_entry", coxph(Surv(d$entry_tied, d$time_tied, d$event) ~ X, ties = "efron"))
coef_line("coef_cox_weights", coxph(Surv(d$time_tied, d$event) ~ X, weights = d$w, ties = "efron"))
# Breslow ties (SAS PROC PHREG, Stata stcox); exact ties up to n = 1000 (EXACT_MAX_N)
timed("cox_breslow", { fit <- coxph(Surv(d$time_tied, d$event) ~ X, ties = "breslow"); sqrt(diag(vcov(fit))) })
coef_line("coef_cox_breslow", coxph(Surv(d$time_tied, d$event) ~ X, ties = "breslow"))
if (nrow(d) <= 1000) {
  timed("cox_exact", { fit <- coxph(Surv(d$time_tied, d$event) ~ X, ties = "exact"); sqrt(diag(vcov(fit))) })
  coef_line("coef_cox_exact", coxph(Surv(d$time_tied, d$event) ~ X, ties = "exact"))
}
timed("km_median", quantile(survfit(Surv(d$time_tied, d$event) ~ d$group), 0.5))
timed("logrank", survdiff(Surv(d$time_tied, d$event) ~ d$group))
# delayed entry and case weights: survfit on (entry, time]; survdiff takes neither, so
# the Cox score test at beta = 0. Without weights the engine's statistic is ties =
# "exact", which R computes on (start, stop] data by enumerating the subsets of each
# tied death set (hours at these ties): R is timed on ties = "breslow" (the same O - E,
# Breslow's variance), the call with weights is the engine's own counterpart.
timed("km_entry", quantile(survfit(Surv(d$entry_tied, d$time_tied, d$event) ~ d$group), 0.5))
timed("logrank_entry", summary(coxph(Surv(d$entry_tied, d$time_tied, d$event) ~ d$group,
                                     ties = "breslow"))$sctest)
timed("logrank_entry_w", summary(coxph(Surv(d$entry_tied, d$time_tied, d$event) ~ d$group,
                                       weights = d$w, ties = "breslow"))$sctest)
fit <- coxph(Surv(d$time, d$event) ~ X, ties = "efron")
# the same model with its four terms (two factors), as the workflow fits it: cox.zph
# tests per term, drop1 refits without each term
d$grade <- factor(ifelse(d$x4 == 1, "G3", ifelse(d$x3 == 1, "G2", "G1")))
d$group <- factor(d$group)
fit4 <- coxph(Surv(time, event) ~ group + grade + x5 + x6, data = d, ties = "efron")
timed("cox_zph", cox.zph(fit4, transform = "km"))
timed("drop1", drop1(fit4, test = "Chisq"))
lp <- drop(X %*% coef(fit))
# royston() grows as n^2 (52 s at 96,040 patients): beyond 2 * 10^5 R is not timed.
if (nrow(d) <= 200000) timed("royston_d", royston(fit))
timed("calibration_slope", { cs <- coxph(Surv(d$time, d$event) ~ lp); confint(cs) })
if (requireNamespace("riskRegression", quietly = TRUE)) {
  risk36 <- 1 - d$surv36
  dd <- data.frame(time = d$time, event = d$event)
  timed("auc", riskRegression::Score(list(m = risk36), formula = Surv(time, event) ~ 1,
                                     data = dd, times = 36, metrics = "auc", null.model = FALSE,
                                     conf.int = FALSE))
  timed("brier", riskRegression::Score(list(m = risk36), formula = Surv(time, event) ~ 1,
                                       data = dd, times = 36, metrics = "brier",
                                       summary = "ipa", conf.int = FALSE))
}
# Competing risks on the TTP clock: progression (1), death first (2), censored (0)
fcause <- factor(d$cause, 0:2, labels = c("censor", "progression", "death"))
cr_tied <- ceiling(d$cr_time)
timed("aalen_johansen", summary(survfit(Surv(cr_tied, fcause) ~ d$group), censored = TRUE))
if (requireNamespace("cmprsk", quietly = TRUE)) {
  timed("gray", cmprsk::cuminc(cr_tied, d$cause, d$group))
}
# finegray's expanded data grow as patients x censoring times (17 s at 10^4 patients);
# beyond 2 * 10^4 R is not timed.
if (nrow(d) <= 20000) {
  crd <- data.frame(cr_time = d$cr_time, fcause = fcause, X, id = seq_len(nrow(d)))
  timed("fine_gray", {
    fgd <- finegray(Surv(cr_time, fcause) ~ ., data = crd, etype = "progression")
    fg <- coxph(Surv(fgstart, fgstop, fgstatus) ~ x1 + x2 + x3 + x4 + x5 + x6, weights = fgwt,
                cluster = id, data = fgd)
  }, reps = min(repeats, 2))
  coef_line("coef_fine_gray", fg)
}
timed("harrell_c", concordance(Surv(d$time, d$event) ~ lp, reverse = TRUE))
timed("uno_c", concordance(Surv(d$time, d$event) ~ lp, reverse = TRUE, timewt = "n/G2"))
timed("harrell_c_entry", concordance(Surv(d$entry_tied, d$time, d$event) ~ lp, reverse = TRUE))
timed("harrell_c_entry_w", concordance(Surv(d$entry_tied, d$time, d$event) ~ lp, weights = d$w,
                                       reverse = TRUE))
if (boot > 0) {
  set.seed(1)
  n <- nrow(d)
  timed("boot_c", for (b in seq_len(boot)) {
    i <- sample.int(n, n, replace = TRUE)
    concordance(Surv(d$time[i], d$event[i]) ~ lp[i], reverse = TRUE)
  }, reps = 1)
  timed("boot_cox", for (b in seq_len(boot)) {
    i <- sample.int(n, n, replace = TRUE)
    coxph(Surv(d$time[i], d$event[i]) ~ X[i, ], ties = "efron")
  }, reps = 1)
}
