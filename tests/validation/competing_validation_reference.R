# Reference values for validating a competing-risks prediction
# (netpet_stats.validation.competing and the Fine-Gray baseline of
# netpet_stats.survival.competing_risks).
#
# Regenerate (from the repository root):
#     Rscript tests/validation/competing_validation_reference.R
# Needs: r-base-core, r-cran-survival, r-cran-jsonlite, and riskRegression (CRAN,
# see benchmarks/setup_r.sh). Output: tests/validation/competing_validation_reference.json.
#
# mgus2 (tests/data/mgus2.csv, written by tests/survival/competing_risks_reference.R):
# a Fine-Gray model of progression (pcm) fitted on the odd ids, its predicted risks
# for the even ids at 60, 120 and 240 months, and riskRegression::Score(cause = 1)
# of those risks.

suppressPackageStartupMessages({
  library(survival)
  library(riskRegression)
  library(prodlim)
  library(jsonlite)
})

m <- read.csv("tests/data/mgus2.csv", stringsAsFactors = FALSE)
m$male <- as.integer(m$sex == "M")
m$fevent <- factor(m$event, 0:2, labels = c("censor", "pcm", "death"))
train <- m[m$id %% 2 == 1, ]
test <- m[m$id %% 2 == 0, ]
times <- c(60, 120, 240)

fgd <- finegray(Surv(etime, fevent) ~ male + age + id, data = train, etype = "pcm")
fit <- coxph(Surv(fgstart, fgstop, fgstatus) ~ male + age, weights = fgwt, cluster = id,
             data = fgd, control = coxph.control(eps = 1e-12, toler.chol = 1e-13))
# Baseline cumulative subdistribution hazard at x = 0 (male = 0, age = 0)
base <- summary(survfit(fit, newdata = data.frame(male = 0, age = 0)), times = times)
lp <- as.vector(as.matrix(test[, c("male", "age")]) %*% coef(fit))
risk <- sapply(seq_along(times), function(k) 1 - exp(-base$cumhaz[k] * exp(lp)))

sc <- Score(list(FG = risk), formula = Hist(etime, event) ~ 1, data = test, times = times,
            cause = 1, metrics = c("auc", "brier"), null.model = TRUE, cens.model = "km",
            se.fit = FALSE, summary = "ipa")
auc <- as.data.frame(sc$AUC$score)
brier <- as.data.frame(sc$Brier$score)
# The Aalen-Johansen cumulative incidence of pcm in the test half (the observed risk of O/E)
aj <- summary(survfit(Surv(etime, fevent) ~ 1, data = test), times = times)

# Edges. "late": the test patients followed to 200 months at most (the last one
# censored at 200). Score computes AUC, Brier and IPA at a horizon equal to the last
# time and computes nothing past it ("Upper limit of followup is 200. Results at
# evaluation time(s) beyond this time point are not computed.").
late <- test$etime <= 200
last <- max(test$etime[late])
sc_late <- Score(list(FG = cbind(risk[late, 1], risk[late, 2], risk[late, 2])),
                 formula = Hist(etime, event) ~ 1, data = test[late, ], times = c(60, 120, last),
                 cause = 1, metrics = c("auc", "brier"), null.model = TRUE, cens.model = "km",
                 se.fit = FALSE, summary = "ipa")
beyond <- tryCatch({
  Score(list(FG = risk[late, 3]), formula = Hist(etime, event) ~ 1, data = test[late, ],
        times = 240, cause = 1, metrics = c("auc", "brier"), null.model = TRUE,
        cens.model = "km", se.fit = FALSE, summary = "ipa")
  "computed"
}, message = function(m) conditionMessage(m), error = function(e) conditionMessage(e))
late_auc <- as.data.frame(sc_late$AUC$score)
late_brier <- as.data.frame(sc_late$Brier$score)
# "none": the test patients with id %% 3 == 0 who did not progress. Score refuses.
none <- test$id %% 3 == 0 & test$event != 1
refused <- tryCatch({
  Score(list(FG = risk[none, 2]), formula = Hist(etime, event) ~ 1, data = test[none, ],
        times = 120, cause = 1, metrics = c("auc", "brier"), null.model = TRUE,
        cens.model = "km", se.fit = FALSE, summary = "ipa")
  "computed"
}, error = function(e) conditionMessage(e))
edges <- list(
  late = list(call = paste("Score(..., data = test[etime <= 200, ], times = c(60, 120, 200));",
                           "predictions at 200: those at 120"),
              id = test$id[late], last = last, times = late_auc$times, auc = late_auc$AUC,
              model = as.character(late_brier$model), brier_times = late_brier$times,
              brier = late_brier$Brier, ipa = late_brier$IPA, beyond_240 = beyond),
  none = list(call = "Score(..., data = test[id %% 3 == 0 & event != 1, ], times = 120)",
              id = test$id[none], refused = refused))

ref <- list(
  generated_by = "tests/validation/competing_validation_reference.R",
  versions = list(R = R.version.string, survival = as.character(packageVersion("survival")),
                  riskRegression = as.character(packageVersion("riskRegression"))),
  times = times,
  coef = unname(coef(fit)),
  baseline_cumhaz = base$cumhaz,
  risk = unname(risk),
  test_id = test$id,
  auc = list(call = "Score(list(FG = risk), Hist(etime, event) ~ 1, cause = 1, metrics = 'auc')",
             times = auc$times, auc = auc$AUC),
  brier = list(call = "Score(..., metrics = 'brier', null.model = TRUE, summary = 'ipa')",
               model = as.character(brier$model), times = brier$times,
               brier = brier$Brier, ipa = brier$IPA),
  aj = list(call = "summary(survfit(Surv(etime, event) ~ 1, data = test), times)",
            pcm = aj$pstate[, 2], se = aj$std.err[, 2]),
  edges = edges)
writeLines(toJSON(ref, digits = NA, auto_unbox = TRUE, matrix = "rowmajor"),
           "tests/validation/competing_validation_reference.json")
