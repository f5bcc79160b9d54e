# Reference values for netpet_stats.survival.distributions (tests/survival/test_distributions.py):
# R's qnorm, pnorm(lower.tail = FALSE) and pchisq(lower.tail = FALSE) on grids that reach
# the far tails and the degrees of freedom the workflow's tests use.
#
#     Rscript tests/survival/distributions_reference.R
suppressPackageStartupMessages(library(jsonlite))
here <- dirname(sub("--file=", "", grep("--file=", commandArgs(FALSE), value = TRUE)))
q <- c(1e-300, 1e-200, 1e-100, 1e-50, 1e-20, 1e-10, 1e-5, 0.001, 0.01, 0.025, 0.05, 0.1,
       0.2, 0.3, 0.4, 0.425, 0.45, 0.5, 0.55, 0.575, 0.6, 0.7, 0.8, 0.9, 0.95, 0.975,
       0.99, 0.999, 1 - 1e-5, 1 - 1e-10, 1 - 1e-15)
z <- c(-8, -3, -1.959963984540054, -1, -0.1, 0, 1e-8, 0.1, 0.5, 1, 1.644853626951472,
       1.959963984540054, 2.5, 3, 4, 5, 6, 8, 10, 15, 20, 25, 30, 35, 37.5)
chi <- expand.grid(x = c(1e-8, 0.01, 0.5, 1, 2, 3.841458820694124, 5, 10, 20, 50, 100,
                         200, 500, 1000, 1300, 1600, 2500),
                   df = c(1, 2, 3, 4, 5, 6, 7, 10, 11, 25, 60, 101))
chi$p <- pchisq(chi$x, chi$df, lower.tail = FALSE)
out <- list(
  R_version = R.version.string,
  qnorm = list(q = q, value = qnorm(q)),
  pnorm_upper = list(z = z, value = pnorm(z, lower.tail = FALSE)),
  pchisq_upper = list(x = chi$x, df = chi$df, value = chi$p)
)
writeLines(toJSON(out, digits = I(17), auto_unbox = TRUE, pretty = TRUE),
           file.path(here, "distributions_reference.json"))
