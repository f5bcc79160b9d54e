# Reference values for external and internal validation (issue: external validation).
#
# Regenerate (from the repository root; tests/survival/survival_reference.R
# also runs this file):
#     Rscript tests/validation/validation_reference.R
# Needs: r-base-core, r-cran-survival, r-cran-jsonlite, r-cran-riskregression,
# r-cran-rms (Debian packages).
# Output: tests/validation/validation_reference.json, beside this script and the
# tests that read it, and the exported Rotterdam (development) and GBSG
# (validation) cohorts in tests/data/.
#
# The worked example is Royston & Altman (BMC Med Res Methodol 2013;13:33) as
# set up in the STRATOS guidance (McLernon et al., Ann Intern Med 2023):
# recurrence-free survival, a Cox model developed on node-positive Rotterdam
# patients and validated on GBSG. Time in months (days / 365.25 * 12).

suppressPackageStartupMessages({
  library(survival)
  library(jsonlite)
  library(riskRegression)
  library(rms)
})

out_dir <- "tests/validation"
data_dir <- "tests/data"
ctl <- coxph.control(eps = 1e-12, toler.chol = 1e-14, iter.max = 100)
months <- function(days) days / 365.25 * 12
horizons <- c(12, 36, 60)

# ---------------------------------------------------------------- the two cohorts
size_levels <- c("<=20", "20-50", ">50")
rott <- subset(survival::rotterdam, nodes > 0)
dev <- data.frame(
  pid = rott$pid,
  size = as.character(rott$size),
  nodes = rott$nodes, grade3 = as.integer(rott$grade == 3), age = rott$age,
  hormon = rott$hormon, pgr = rott$pgr,
  # liberal RFS (help(rotterdam)): recurrence, or death when there is none
  rfs_time = months(ifelse(rott$recur == 1, rott$rtime, rott$dtime)),
  rfs_event = pmax(rott$recur, rott$death), stringsAsFactors = FALSE)
gb <- survival::gbsg
val <- data.frame(
  pid = gb$pid,
  size = as.character(cut(gb$size, c(0, 20, 50, Inf), labels = size_levels)),
  nodes = gb$nodes, grade3 = as.integer(gb$grade == 3), age = gb$age,
  hormon = gb$hormon, pgr = gb$pgr,
  rfs_time = months(gb$rfstime), rfs_event = gb$status, stringsAsFactors = FALSE)
write.csv(dev, file.path(data_dir, "rotterdam.csv"), row.names = FALSE)
write.csv(val, file.path(data_dir, "gbsg.csv"), row.names = FALSE)
for (d in c("dev", "val")) {
  x <- get(d); x$size <- factor(x$size, levels = size_levels); assign(d, x)
}

# ---------------------------------------------------------------- development model
f_ext <- Surv(rfs_time, rfs_event) ~ size + log2(nodes) + grade3 + I(age / 10) + hormon +
  log2(pmax(pgr, 1))
f_base <- update(f_ext, . ~ . - log2(pmax(pgr, 1)))
fit <- coxph(f_ext, data = dev, control = ctl, x = TRUE)
fit_base <- coxph(f_base, data = dev, control = ctl, x = TRUE)
zero <- data.frame(size = factor("<=20", levels = size_levels), nodes = 1, grade3 = 0, age = 0,
                   hormon = 0, pgr = 1)
s0 <- summary(survfit(fit, newdata = zero), times = horizons)$surv

# ---------------------------------------------------------------- validation cohort
lp <- predict(fit, newdata = val, type = "lp", reference = "zero")
pred <- summary(survfit(fit, newdata = val), times = horizons)$surv   # 3 x n
harrell <- concordance(fit, newdata = val, ymax = 60)
uno <- concordance(fit, newdata = val, ymax = 60, timewt = "n/G2")
roy <- royston(fit, newdata = val)
slope_fit <- coxph(Surv(rfs_time, rfs_event) ~ lp, data = val, control = ctl)
both <- concordance(fit, fit_base, newdata = val, ymax = 60)
contrast <- c(1, -1)
delta_se <- sqrt(drop(contrast %*% both$var %*% contrast))

km <- survfit(Surv(rfs_time, rfs_event) ~ 1, data = val)
km_h <- summary(km, times = horizons)
oe <- (1 - km_h$surv) / colMeans(1 - t(pred))
# summary.survfit std.err is the SE of S(t) itself; delta method: se(log O) = se(S) / O
se_log_oe <- km_h$std.err / (1 - km_h$surv)

risk <- 1 - t(pred)                                                      # n x 3
models <- setNames(lapply(seq_along(horizons), function(j) risk[, j]), paste0("at", horizons))
sc <- Score(models, formula = Surv(rfs_time, rfs_event) ~ 1,
            data = val, times = horizons, metrics = c("auc", "brier"), cens.model = "km",
            null.model = TRUE, summary = "ipa", conf.int = TRUE)
# Score evaluates every prediction at every time; keep model j at horizon j
au <- as.data.frame(sc$AUC$score); br <- as.data.frame(sc$Brier$score)
pick <- function(tab, col) sapply(seq_along(horizons), function(j)
  tab[[col]][as.character(tab$model) == paste0("at", horizons[j]) & tab$times == horizons[j]])
auc <- pick(au, "AUC"); auc_se <- pick(au, "se")
brier <- pick(br, "Brier"); ipa <- pick(br, "IPA")
brier_null <- sapply(horizons, function(h) br$Brier[br$model == "Null model" & br$times == h])

# Smoothed calibration (Austin, Harrell & van Klaveren 2020) at each horizon
ici <- lapply(seq_along(horizons), function(j) {
  p <- pred[j, ]; cll <- log(-log(p))
  kn <- Hmisc::rcspline.eval(cll, nk = 3, knots.only = TRUE)
  X <- Hmisc::rcspline.eval(cll, knots = kn, inclx = TRUE)
  cal <- coxph(Surv(val$rfs_time, val$rfs_event) ~ X, control = ctl)
  h0 <- summary(survfit(cal, newdata = list(X = matrix(0, 1, ncol(X)))), times = horizons[j])$cumhaz
  d <- abs(1 - exp(-h0 * exp(drop(X %*% coef(cal)))) - (1 - p))
  c(ICI = mean(d), E50 = median(d), E90 = unname(quantile(d, 0.9)))
})

# Observed risk by fifths of predicted risk at 60 months (rank ties broken by order)
r60 <- risk[, 3]
grp <- as.integer(cut(rank(r60, ties.method = "first"), quantile(seq_along(r60), 0:5 / 5),
                      include.lowest = TRUE))
groups <- lapply(1:5, function(g) {
  s <- summary(survfit(Surv(rfs_time, rfs_event) ~ 1, data = val[grp == g, ]), times = 60)
  list(n = sum(grp == g), predicted = mean(r60[grp == g]), observed = 1 - s$surv,
       observed_lower = 1 - s$upper, observed_upper = 1 - s$lower)
})

# ---------------------------------------------------------------- internal validation
# rms::validate is a distributional check only (its resamples differ from ours):
# five runs of B = 200 with fixed seeds give the spread of its corrected values.
dd <- datadist(dev); options(datadist = "dd")
cfit <- cph(f_ext, data = dev, x = TRUE, y = TRUE, surv = TRUE)
runs <- lapply(1:5, function(s) {
  set.seed(s)
  v <- validate(cfit, B = 200)
  c(dxy_apparent = v["Dxy", "index.orig"], dxy_corrected = v["Dxy", "index.corrected"],
    slope_corrected = v["Slope", "index.corrected"])
})
runs <- do.call(rbind, runs)

# ---------------------------------------------------------------- internal-external CV
# Bundled synthetic cohort: leave one centre out, refit, predict the centre left out.
coh <- read.csv("data/synthetic/cohort.csv", stringsAsFactors = FALSE)
grp3 <- ifelse(coh$netpet == "P1", "P1",
        ifelse(coh$netpet %in% c("P2", "P3", "P4", "P4a", "P4b"), "P2-4",
        ifelse(coh$netpet == "P5", "P5", NA)))
syn <- data.frame(time = coh$os_months, event = coh$os_event,
                  group = factor(grp3, levels = c("P1", "P2-4", "P5")),
                  grade = factor(ifelse(coh$who_grade == "", NA, coh$who_grade),
                                 levels = c("G1", "G2", "G3")),
                  age10 = coh$age_at_diagnosis / 10,
                  extrahepatic = as.integer(coh$extrahepatic_disease == "yes"),
                  centre = coh$centre)
syn <- syn[complete.cases(syn), ]
iecv <- lapply(sort(unique(syn$centre)), function(k) {
  tr <- syn[syn$centre != k, ]; te <- syn[syn$centre == k, ]
  f <- coxph(Surv(time, event) ~ group + grade + age10 + extrahepatic, data = tr, control = ctl)
  lp_k <- predict(f, newdata = te, type = "lp", reference = "zero")
  s60 <- summary(survfit(f, newdata = te), times = 60)$surv[1, ]
  cc <- concordance(Surv(time, event) ~ lp_k, data = te, reverse = TRUE, ymax = 60)
  sl <- coxph(Surv(time, event) ~ lp_k, data = te, control = ctl)
  list(centre = k, coef = unname(coef(f)), c = unname(cc$concordance), c_se = sqrt(cc$var),
       slope = unname(coef(sl)), slope_se = sqrt(vcov(sl)[1, 1]),
       lp_first = unname(lp_k[1:3]), surv60_first = unname(s60[1:3]),
       expected60 = mean(1 - s60))
})

# ---------------------------------------------------------------- external validation (lung)
# A frozen Cox model on survival::lung (exported to tests/data/lung.csv by
# tests/survival/survival_reference.R), time in days.
external <- local({
  lung_x <- read.csv(file.path(data_dir, "lung.csv"), stringsAsFactors = FALSE)
  cox_control <- ctl
  # Development on the first 120 complete lung cases, validation on the rest.
  lc <- lung_x[complete.cases(lung_x[, c("time", "event", "age", "sex", "ph_ecog")]), ]
  dev <- lc[1:120, ]; val <- lc[121:nrow(lc), ]
  vfit <- coxph(Surv(time, event) ~ age + sex + ph_ecog, data = dev, control = cox_control)
  lp_val <- predict(vfit, newdata = val, type = "lp", reference = "zero")
  roy <- royston(vfit, newdata = val)
  slope <- coxph(Surv(time, event) ~ lp_val, data = val, control = cox_control)
  s0 <- summary(survfit(vfit, newdata = data.frame(age = 0, sex = 0, ph_ecog = 0)),
                times = c(180, 365))$surv
  pred365 <- summary(survfit(vfit, newdata = val), times = 365)$surv
  km365 <- summary(survfit(Surv(time, event) ~ 1, data = val), times = 365)
  external <- list(
    dataset = "lung", split = "development = first 120 complete cases, validation = the rest",
    calls = c("vfit <- coxph(Surv ~ age + sex + ph_ecog, data = dev)",
              "predict(vfit, newdata = val, type = 'lp', reference = 'zero')",
              "royston(vfit, newdata = val)",
              "coxph(Surv ~ lp_val, data = val)",
              "summary(survfit(vfit, newdata = <x = 0>), times = c(180, 365))$surv",
              "summary(survfit(vfit, newdata = val), times = 365)$surv",
              "1 - summary(survfit(Surv ~ 1, data = val), times = 365)$surv"),
    n_dev = nrow(dev), coef = unname(coef(vfit)), lp_val = unname(lp_val),
    royston_D = unname(roy["D"]), royston_se = unname(roy["se(D)"]), royston_R2 = unname(roy["R.D"]),
    slope = unname(coef(slope)), slope_se = unname(sqrt(vcov(slope)[1, 1])),
    baseline_horizons = c(180, 365), baseline_survival = s0,
    predicted_365 = unname(pred365[1, ]), observed_365 = 1 - km365$surv,
    expected_365 = mean(1 - pred365[1, ]),
    # O/E interval: Greenwood se of the KM (summary()$std.err) on the log scale
    # of the observed risk, the expected risk taken as fixed
    o_e_365_ci = (1 - km365$surv) / mean(1 - pred365[1, ]) *
      exp(c(-1, 1) * qnorm(0.975) * km365$std.err / (1 - km365$surv)),
    strat_call = "survfit(coxph(Surv ~ age + sex + strata(inst), lung), newdata = x = 0) at 365",
    strat_inst = c(1, 3),
    strat_cumhaz_365 = local({
      d <- lung_x[!is.na(lung_x$inst), ]
      f <- coxph(Surv(time, event) ~ age + sex + strata(inst), data = d, control = cox_control)
      sm <- summary(survfit(f, newdata = data.frame(age = 0, sex = 0)), times = 365, extend = TRUE)
      unname(sm$cumhaz[match(c("inst=1", "inst=3"), as.character(sm$strata))])
    }))

  # IPCW Brier score, IPA and time-dependent AUC of the frozen model (riskRegression)
  if (requireNamespace("riskRegression", quietly = TRUE)) {
    pred_both <- summary(survfit(vfit, newdata = val), times = c(180, 365))$surv  # 2 x n
    risk <- t(1 - pred_both)                                                      # n x 2
    sc <- riskRegression::Score(list(model = risk), formula = Surv(time, event) ~ 1, data = val,
                                times = c(180, 365), metrics = c("auc", "brier"),
                                cens.model = "km", null.model = TRUE, summary = "ipa",
                                conf.int = TRUE)
    br <- as.data.frame(sc$Brier$score)
    au <- as.data.frame(sc$AUC$score)
    external$score_call <- paste("riskRegression::Score(list(model = 1 - S(t|x)), Surv(time, event) ~ 1,",
                                 "data = val, times = c(180, 365), metrics = c('auc', 'brier'),",
                                 "cens.model = 'km', null.model = TRUE, summary = 'ipa')")
    external$riskregression_version <- as.character(packageVersion("riskRegression"))
    external$score_times <- c(180, 365)
    external$brier_model <- br$Brier[br$model == "model"]
    external$brier_null <- br$Brier[br$model == "Null model"]
    external$ipa <- br$IPA[br$model == "model"]
    external$auc <- au$AUC[au$model == "model"]
    external$auc_se <- au$se[au$model == "model"]
    external$predicted_180 <- unname(pred_both[1, ])
  }

  # Smoothed calibration at 365 days (Austin, Harrell & van Klaveren, Stat Med 2020):
  # Cox model of the outcome on a restricted cubic spline (3 knots, Hmisc/rms defaults) of
  # log(-log(S(t|x))); calibrated risk from its Efron baseline; ICI, E50, E90.
  if (requireNamespace("Hmisc", quietly = TRUE)) {
    p365 <- pred365[1, ]
    cll <- log(-log(p365))
    kn <- Hmisc::rcspline.eval(cll, nk = 3, knots.only = TRUE)
    X <- Hmisc::rcspline.eval(cll, knots = kn, inclx = TRUE)
    cal <- coxph(Surv(val$time, val$event) ~ X, control = cox_control)
    h0 <- summary(survfit(cal, newdata = list(X = matrix(0, 1, ncol(X)))), times = 365)$cumhaz
    obs <- 1 - exp(-h0 * exp(drop(X %*% coef(cal))))
    diff <- abs(obs - (1 - p365))
    external$ici_call <- "coxph(Surv ~ rcspline.eval(cll, nk = 3, inclx = TRUE)); Efron baseline at 365"
    external$ici_knots <- unname(kn)
    external$ici <- mean(diff); external$e50 <- median(diff)
    external$e90 <- unname(quantile(diff, 0.9))
  }
  external
})

result <- list(
  generated_by = "tests/validation/validation_reference.R",
  r_version = R.version.string,
  versions = list(survival = as.character(packageVersion("survival")),
                  riskRegression = as.character(packageVersion("riskRegression")),
                  rms = as.character(packageVersion("rms"))),
  external_validation = external,
  rotterdam_gbsg = list(
    development = "survival::rotterdam, nodes > 0; RFS = recurrence or death (help(rotterdam))",
    validation = "survival::gbsg; size cut at 20 and 50 mm",
    model = deparse1(f_ext), base_model = deparse1(f_base),
    horizons = horizons, n_dev = fit$n, events_dev = fit$nevent,
    coef = unname(coef(fit)), coef_names = names(coef(fit)), baseline_survival = s0,
    n_val = nrow(val), events_val = sum(val$rfs_event),
    lp_first = unname(lp[1:5]),
    harrell_call = "concordance(fit, newdata = val, ymax = 60)",
    harrell = unname(harrell$concordance), harrell_se = sqrt(harrell$var),
    uno = unname(uno$concordance), uno_se = sqrt(uno$var),
    royston_D = unname(roy["D"]), royston_se = unname(roy["se(D)"]), royston_R2 = unname(roy["R.D"]),
    slope = unname(coef(slope_fit)), slope_se = sqrt(vcov(slope_fit)[1, 1]),
    delta_c_call = "concordance(fit, fit_base, newdata = val, ymax = 60); contrast c(1, -1)",
    c_base = unname(both$concordance[2]), delta_c = unname(diff(rev(both$concordance))),
    delta_c_se = delta_se,
    observed = 1 - km_h$surv, expected = colMeans(risk), o_e = unname(oe),
    o_e_se_log = se_log_oe,
    score_call = paste("riskRegression::Score(risk at each horizon, Surv ~ 1, times = c(12, 36, 60),",
                       "metrics = c('auc', 'brier'), cens.model = 'km', null.model = TRUE,",
                       "summary = 'ipa')"),
    auc = auc, auc_se = auc_se, brier = brier, brier_null = brier_null, ipa = ipa,
    ici = sapply(ici, `[[`, "ICI"), e50 = sapply(ici, `[[`, "E50"), e90 = sapply(ici, `[[`, "E90"),
    groups_60 = groups,
    validate_call = "set.seed(s); validate(cph(f_ext, x = TRUE, y = TRUE, surv = TRUE), B = 200), s = 1..5",
    validate_c_apparent = unname((runs[, "dxy_apparent"] + 1) / 2),
    validate_c_corrected = unname((runs[, "dxy_corrected"] + 1) / 2),
    validate_slope_corrected = unname(runs[, "slope_corrected"])),
  iecv_synthetic = list(
    call = paste("for each centre k: coxph(Surv(os) ~ group + grade + age10 + extrahepatic,",
                 "centre != k); predict(type = 'lp', reference = 'zero') and survfit at 60",
                 "for centre k; concordance(reverse = TRUE, ymax = 60); coxph(Surv ~ lp)"),
    centres = iecv))
writeLines(toJSON(result, digits = NA, na = "null", auto_unbox = TRUE, pretty = TRUE),
           file.path(out_dir, "validation_reference.json"))
cat("wrote", file.path(out_dir, "validation_reference.json"), "\n")
