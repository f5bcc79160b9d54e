# The core of this study in R, end to end, for the benchmark's wall-time comparison:
# read the bundled cohort, group NETPET (P1 / P2-4 / P5), then for OS and TTP:
# Kaplan-Meier by group with medians, log-rank, the multivariable Cox model
# (NETPET group, WHO grade, age, extrahepatic disease; strata by centre) and
# Harrell's C of the model. Written to show how long R takes for the analyses the
# workflow shares with it; the workflow also writes figures, tables, a report and
# a PDF, validates the model and simulates sample sizes, which this script does not.
#
#     Rscript benchmarks/r_full_analysis.R data/synthetic/cohort.csv
suppressPackageStartupMessages(library(survival))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
d <- d[d$netpet != "P0", ]
d$group <- factor(ifelse(d$netpet == "P1", "P1", ifelse(d$netpet == "P5", "P5", "P2-4")),
                  levels = c("P1", "P2-4", "P5"))
d$grade <- factor(d$who_grade, levels = c("G1", "G2", "G3"))
d$age10 <- d$age_at_diagnosis / 10
d$extra <- as.integer(d$extrahepatic_disease == "yes")
for (ep in c("os", "ttp")) {
  time <- d[[paste0(ep, "_months")]]
  event <- d[[paste0(ep, "_event")]]
  km <- survfit(Surv(time, event) ~ group, data = d, conf.type = "log-log")
  med <- summary(km)$table[, c("median", "0.95LCL", "0.95UCL")]
  lr <- survdiff(Surv(time, event) ~ group, data = d)
  fit <- coxph(Surv(time, event) ~ group + grade + age10 + extra + strata(centre), data = d,
               ties = "efron")
  cc <- concordance(fit)
  cat(ep, ": medians", format(med[, 1], digits = 4), "; log-rank chisq",
      format(lr$chisq, digits = 5), "; Cox n", fit$n, "; C", format(cc$concordance, digits = 4),
      "\n")
}
