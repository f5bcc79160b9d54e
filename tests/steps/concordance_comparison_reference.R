# Reference values for tests/steps/test_concordance_comparison.py: two concordance
# indices compared on the same pairs when one member is stratified, and the
# likelihood-ratio test of an added term (R survival).
#   Rscript tests/steps/concordance_comparison_reference.R   (from the repository root)
library(survival)
library(jsonlite)
lung <- read.csv("tests/data/lung.csv")
d <- lung[complete.cases(lung[, c("time", "event", "sex", "age", "ph_ecog", "inst")]), ]
d <- d[order(d$time, d$inst, d$age, d$ph_ecog), ]   # any order: C does not depend on it
d$site <- cut(d$inst, c(-Inf, 5, 12, Inf), labels = c("a", "b", "c"))
strat <- coxph(Surv(time, event) ~ age + sex + strata(site), data = d, ties = "efron")
base <- coxph(Surv(time, event) ~ age + sex, data = d, ties = "efron")
ext <- coxph(Surv(time, event) ~ age + sex + ph_ecog, data = d, ties = "efron")
# the stratified model's C counts pairs within a site; the predictor counted on the same pairs
c_strat <- concordance(strat, influence = 1)
c_ecog_within <- concordance(Surv(time, event) ~ ph_ecog + strata(site), data = d,
                             reverse = TRUE, influence = 1)
c_ecog_all <- concordance(Surv(time, event) ~ ph_ecog, data = d, reverse = TRUE)
# R concordance(fit1, fit2): var = crossprod(dfbeta); the difference's variance
infl <- cbind(c_strat$dfbeta, c_ecog_within$dfbeta)
v <- crossprod(infl)
both <- concordance(base, ext)          # two unstratified fits on the same patients
lr <- anova(base, ext)
out <- list(
  n = nrow(d),
  stratified_model = list(c = unname(c_strat$concordance),
                          n_pairs = sum(c_strat$count[, 1:3])),
  predictor_within = list(c = unname(c_ecog_within$concordance),
                          n_pairs = sum(c_ecog_within$count[, 1:3])),
  predictor_all = list(c = unname(c_ecog_all$concordance),
                       n_pairs = sum(c_ecog_all$count[1:3])),
  difference_se = sqrt(v[1, 1] + v[2, 2] - 2 * v[1, 2]),
  added = list(c_base = unname(both$concordance[1]), c_extended = unname(both$concordance[2]),
               difference_se = sqrt(both$var[1, 1] + both$var[2, 2] - 2 * both$var[1, 2]),
               lr_chisq = lr$Chisq[2], lr_df = lr$Df[2], lr_p = lr[["Pr(>|Chi|)"]][2]),
  r_version = paste(R.version$major, R.version$minor, sep = "."),
  survival_version = as.character(packageVersion("survival")))
write_json(out, "tests/steps/concordance_comparison_reference.json", digits = NA,
           auto_unbox = TRUE, pretty = TRUE)
