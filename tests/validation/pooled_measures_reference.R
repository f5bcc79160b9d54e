# Reference values for tests/validation/test_pooled_measures.py: performance measures
# pooled over imputations on the scales the literature recommends (Marshall et al. 2009;
# Debray et al. 2017): Harrell's / Uno's C on the logit scale (SE by the delta method
# se / (C (1 - C))), O/E on the log scale (SE given on the log scale), the calibration
# slope as it is; Rubin's rules by mice::pool.scalar with a large-sample complete-data df
# (n = Inf), the interval qbar +- qt(0.975, df) sqrt(t) transformed back.
#   Rscript tests/validation/pooled_measures_reference.R   (from the repository root)
suppressMessages(library(mice))
library(jsonlite)
pooled <- function(y, v, back) {
  p <- pool.scalar(y, v, n = Inf, k = 1)
  half <- qt(0.975, p$df) * sqrt(p$t)
  list(estimate = back(p$qbar), lower = back(p$qbar - half), upper = back(p$qbar + half),
       estimate_scale = p$qbar, se_scale = sqrt(p$t), df = p$df, fmi = p$fmi)
}
# per-imputation values as the workflow's tables give them (m = 6)
c_est <- c(0.712, 0.698, 0.731, 0.705, 0.689, 0.722)
c_se <- c(0.021, 0.022, 0.020, 0.021, 0.023, 0.021)
oe_est <- c(1.08, 0.97, 1.12, 1.03, 0.94, 1.10)
oe_se_log <- c(0.071, 0.074, 0.069, 0.072, 0.075, 0.070)
slope_est <- c(0.93, 1.04, 0.88, 0.97, 1.09, 0.91)
slope_se <- c(0.081, 0.085, 0.079, 0.083, 0.088, 0.080)
out <- list(
  c = list(est = c_est, se = c_se,
           pooled = pooled(qlogis(c_est), (c_se / (c_est * (1 - c_est)))^2, plogis)),
  oe = list(est = oe_est, se_log = oe_se_log,
            pooled = pooled(log(oe_est), oe_se_log^2, exp)),
  slope = list(est = slope_est, se = slope_se,
               pooled = pooled(slope_est, slope_se^2, identity)),
  versions = list(R = R.version.string, mice = as.character(packageVersion("mice"))))
write_json(out, "tests/validation/pooled_measures_reference.json", digits = NA,
           auto_unbox = TRUE, pretty = TRUE)
