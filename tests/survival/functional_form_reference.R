# Reference values for tests/survival/test_functional_form.py: likelihood-ratio tests of
# non-linearity by a restricted cubic spline (4 knots at the 5/35/65/95th centiles,
# R quantile type 7) against the linear term, the other covariates and strata kept.
# splines::ns with the same knots spans the same functions as rms::rcs.
#   Rscript tests/survival/functional_form_reference.R   (from the repository root)
library(survival)
library(splines)
library(jsonlite)
spline_test <- function(d, x, f_linear, f_spline) {
  k <- quantile(x, c(0.05, 0.35, 0.65, 0.95), type = 7)
  d$s <- ns(x, knots = k[2:3], Boundary.knots = k[c(1, 4)])
  lin <- coxph(f_linear, data = d, ties = "efron")
  spl <- coxph(f_spline, data = d, ties = "efron")
  a <- anova(lin, spl)
  list(knots = unname(k), chisq = a$Chisq[2], df = a$Df[2], p = a[["Pr(>|Chi|)"]][2],
       loglik_linear = lin$loglik[2], loglik_spline = spl$loglik[2], n = lin$n)
}
lung <- read.csv("tests/data/lung.csv")
d <- lung[complete.cases(lung[, c("time", "event", "sex", "age", "inst")]), ]
d$site <- cut(d$inst, c(-Inf, 5, 12, Inf), labels = c("a", "b", "c"))
d$age10 <- d$age / 10
lung_age <- spline_test(d, d$age10, Surv(time, event) ~ age10 + sex + strata(site),
                        Surv(time, event) ~ s + sex + strata(site))
rot <- read.csv("tests/data/rotterdam.csv")
rot$lnodes <- log2(pmax(rot$nodes, 1))
rot_nodes <- spline_test(rot, rot$lnodes, Surv(rfs_time, rfs_event) ~ lnodes + age + hormon,
                         Surv(rfs_time, rfs_event) ~ s + age + hormon)
out <- list(lung_age = lung_age, rotterdam_nodes = rot_nodes,
            r_version = paste(R.version$major, R.version$minor, sep = "."),
            survival_version = as.character(packageVersion("survival")))
write_json(out, "tests/survival/functional_form_reference.json", digits = NA,
           auto_unbox = TRUE, pretty = TRUE)
