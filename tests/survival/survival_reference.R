# Reference values from R's survival package for the netpet-stats test suite.
#
# Regenerate (from the repository root):
#     Rscript tests/survival/survival_reference.R
# Needs: r-base-core, r-cran-survival, r-cran-jsonlite (Debian packages).
# Output: tests/survival/survival_reference.json, beside this script and the
# tests that read it, and the exported public data sets in tests/data/. CI does not need R: the outputs are
# committed and the Python tests compare against them.
#
# Each entry records the R call that defines it in its "call" field.

suppressPackageStartupMessages({
  library(survival)
  library(jsonlite)
})

out_dir <- "tests/survival"
data_dir <- "tests/data"
dir.create(out_dir, showWarnings = FALSE, recursive = TRUE)

# ---------------------------------------------------------------- data sets
read_synthetic <- function() {
  coh <- read.csv("data/synthetic/cohort.csv", stringsAsFactors = FALSE)
  grp <- ifelse(coh$netpet == "P1", "P1",
         ifelse(coh$netpet %in% c("P2", "P3", "P4", "P4a", "P4b"), "P2-4",
         ifelse(coh$netpet == "P5", "P5", NA)))
  data.frame(
    time_os = coh$os_months, event_os = coh$os_event,
    time_ttp = coh$ttp_months, event_ttp = coh$ttp_event,
    group = factor(grp, levels = c("P1", "P2-4", "P5")),
    grade = factor(ifelse(coh$who_grade == "", NA, coh$who_grade), levels = c("G1", "G2", "G3")),
    ki67 = coh$ki67_percent, age = coh$age_at_diagnosis,
    extrahepatic = as.integer(coh$extrahepatic_disease == "yes"),
    centre = coh$centre, stringsAsFactors = FALSE)
}
syn <- read_synthetic()
syn <- syn[!is.na(syn$group), ]

# Public data sets shipped with survival, exported with provenance.
lung_x <- with(survival::lung, data.frame(
  time = time, event = status - 1, sex = sex, age = age, ph_ecog = ph.ecog, inst = inst))
write.csv(lung_x, file.path(data_dir, "lung.csv"), row.names = FALSE, na = "")
vet_x <- with(survival::veteran, data.frame(
  time = time, event = status, trt = trt, celltype = as.character(celltype),
  karno = karno, age = age))
write.csv(vet_x, file.path(data_dir, "veteran.csv"), row.names = FALSE, na = "")
writeLines(c(
  "Exported by tests/survival/survival_reference.R from R's survival package:",
  "  lung.csv    <- survival::lung    (NCCTG lung cancer; Loprinzi et al., J Clin Oncol 1994)",
  "                 event = status - 1; ph_ecog = ph.ecog",
  "  veteran.csv <- survival::veteran (Veterans' Administration lung cancer trial;",
  "                 Kalbfleisch & Prentice 1980)",
  "  generic_cases.csv, case colon_death <- survival::colon[etype == 2] (adjuvant",
  "                 chemotherapy for colon cancer; Moertel et al. 1990): time, status,",
  "                 group = rx, x = nodes, centre = sex; case synthetic_whole_months:",
  "                 the bundled synthetic OS rounded up to whole months",
  "  mgus2.csv   <- survival::mgus2 (Kyle et al., N Engl J Med 2002); written by",
  "                 tests/survival/competing_risks_reference.R: etime/event as in the",
  "                 survival vignette on competing risks (1 = pcm, 2 = death first)",
  "  rotterdam.csv, gbsg.csv <- survival::rotterdam (nodes > 0) and survival::gbsg",
  "                 (Royston & Altman, BMC Med Res Methodol 2013); written by",
  "                 tests/validation/validation_reference.R: RFS in months, size in three classes",
  paste0("survival version ", as.character(packageVersion("survival")),
         ", ", R.version.string)), file.path(data_dir, "PROVENANCE.txt"))

tiny <- read.csv(file.path(data_dir, "tiny.csv"), stringsAsFactors = FALSE)
edge <- read.csv(file.path(data_dir, "edge_cases.csv"), stringsAsFactors = FALSE)

# ---------------------------------------------------------------- helpers
num <- function(x) { x <- as.numeric(x); x[!is.finite(x)] <- NA; x }

km_entry <- function(dataset, label, time, event, conf_type) {
  fit <- survfit(Surv(time, event) ~ 1, conf.type = conf_type)
  q <- quantile(fit, probs = c(0.25, 0.5, 0.75))
  s <- summary(fit, times = c(1, 2, 3, 12, 24, 36, 60), extend = FALSE)
  list(dataset = dataset, subset = label, conf_type = conf_type,
       call = sprintf("survfit(Surv(time, event) ~ 1, conf.type = '%s'); quantile(fit, c(.25,.5,.75)); summary(fit, times = c(1,2,3,12,24,36,60))", conf_type),
       time = fit$time, n_risk = fit$n.risk, n_event = fit$n.event, n_censor = fit$n.censor,
       surv = fit$surv, std_err = num(fit$std.err), lower = num(fit$lower), upper = num(fit$upper),
       quantile_probs = c(0.25, 0.5, 0.75),
       quantile = num(q$quantile), quantile_lower = num(q$lower), quantile_upper = num(q$upper),
       summary_time = s$time, summary_n_risk = s$n.risk, summary_surv = s$surv,
       summary_lower = num(s$lower), summary_upper = num(s$upper))
}

reverse_km_entry <- function(dataset, label, time, event) {
  fit <- survfit(Surv(time, 1 - event) ~ 1)
  q <- quantile(fit, probs = 0.5)
  list(dataset = dataset, subset = label,
       call = "quantile(survfit(Surv(time, 1 - event) ~ 1), 0.5)",
       median = num(q$quantile), lower = num(q$lower), upper = num(q$upper))
}

logrank_entry <- function(dataset, label, time, event, group, strata = NULL) {
  g <- factor(group)
  if (is.null(strata)) {
    sd <- survdiff(Surv(time, event) ~ g)
    call <- "survdiff(Surv(time, event) ~ group)"
    # Trend: score test of coxph(ties = 'exact') on the numeric group code
    tr <- coxph(Surv(time, event) ~ as.numeric(g), ties = "exact")
  } else {
    sd <- survdiff(Surv(time, event) ~ g + strata(strata))
    call <- "survdiff(Surv(time, event) ~ group + strata(centre))"
    tr <- coxph(Surv(time, event) ~ as.numeric(g) + strata(strata), ties = "exact")
  }
  obs <- if (is.matrix(sd$obs)) rowSums(sd$obs) else sd$obs
  exp <- if (is.matrix(sd$exp)) rowSums(sd$exp) else sd$exp
  list(dataset = dataset, subset = label, stratified = !is.null(strata), call = call,
       groups = levels(g), chisq = sd$chisq, df = length(levels(g)) - 1,
       p = pchisq(sd$chisq, length(levels(g)) - 1, lower.tail = FALSE),
       observed = obs, expected = exp, variance = sd$var,
       trend_call = "coxph(Surv(time, event) ~ as.numeric(group) [+ strata(centre)], ties = 'exact')$score",
       trend_chisq = tr$score,
       trend_p = pchisq(tr$score, 1, lower.tail = FALSE))
}

cox_control <- coxph.control(eps = 1e-12, toler.chol = 1e-14, iter.max = 100)

# What plot.cox.zph draws (survival 3.x, df = 4, nsmo = 40): a natural spline fitted
# to each term's scaled Schoenfeld residuals, with a +/- 2 SE band from zph$var; the
# same lines as its source, returning the values instead of drawing them.
zph_smooth <- function(z, df = 4, nsmo = 40) {
  xx <- z$x
  pred.x <- seq(from = min(xx), to = max(xx), length = nsmo)
  lmat <- splines::ns(c(pred.x, xx), df = df, intercept = TRUE)
  pmat <- lmat[1:nsmo, ]
  xmat <- lmat[-(1:nsmo), ]
  lapply(seq_len(ncol(z$y)), function(i) {
    y <- z$y[, i]
    keep <- !is.na(y)
    qmat <- qr(xmat[keep, ])
    yhat <- pmat %*% qr.coef(qmat, y[keep])
    bk <- backsolve(qmat$qr[1:df, 1:df], diag(df))
    seval <- ((pmat %*% (bk %*% t(bk))) * pmat) %*% rep(1, df)
    half <- 2 * sqrt(z$var[i, i] * seval)
    list(term = colnames(z$y)[i], x = pred.x, estimate = c(yhat), lower = c(yhat - half),
         upper = c(yhat + half))
  })
}

zph_resid_entry <- function(fit) {
  z <- cox.zph(fit, transform = "km")
  list(call = "cox.zph(fit, transform = 'km')$x, $time, $y, $var; plot.cox.zph smooth",
       x = unname(z$x), time = unname(z$time), terms = colnames(z$y),
       y = lapply(seq_len(ncol(z$y)), function(i) unname(z$y[, i])),
       var = unname(z$var), smooth = zph_smooth(z))
}

cox_entry <- function(dataset, label, formula, data, call_text, cluster = NULL,
                      residuals = FALSE) {
  fit <- coxph(formula, data = data, ties = "efron", control = cox_control,
               x = TRUE, y = TRUE, model = TRUE)
  robust_se <- NULL
  if (!is.null(cluster)) {
    data$cluster_id <- data[[cluster]]
    rfit <- coxph(formula, data = data, ties = "efron", control = cox_control,
                  cluster = cluster_id)
    robust_se <- unname(sqrt(diag(rfit$var)))
  }
  sm <- summary(fit)
  # Likelihood-ratio test of each term, as drop1(fit, test = "Chisq"): refit
  # without the term on the same complete cases and compare log-likelihoods.
  labels <- attr(terms(formula), "term.labels")
  labels <- labels[!grepl("^strata\\(", labels)]
  cc <- data[complete.cases(model.frame(formula, data = data, na.action = na.pass)), ]
  drop_lrt <- sapply(labels, function(tl) {
    if (length(labels) < 2) return(2 * (fit$loglik[2] - fit$loglik[1]))
    red <- coxph(update(formula, as.formula(paste(". ~ . -", tl))), data = cc,
                 ties = "efron", control = cox_control)
    2 * (fit$loglik[2] - red$loglik[2])
  })
  list(dataset = dataset, subset = label, call = call_text,
       terms = labels,
       coef_names = names(coef(fit)), coef = unname(coef(fit)),
       se = unname(sqrt(diag(vcov(fit)))), p = unname(sm$coefficients[, "Pr(>|z|)"]),
       loglik = fit$loglik, n = fit$n, nevent = fit$nevent,
       # summary.coxph() rounds its printed tests; take the unrounded values.
       lrt = 2 * (fit$loglik[2] - fit$loglik[1]), lrt_df = length(coef(fit)),
       wald = unname(fit$wald.test), score = unname(fit$score),
       drop1_call = "2 * (logLik(fit) - logLik(update(fit, . ~ . - term))), as drop1(fit, test = 'Chisq')",
       drop1_terms = labels, drop1_lrt = unname(drop_lrt),
       robust_call = if (is.null(cluster)) NULL else paste0("coxph(..., cluster = ", cluster, ")"),
       cluster = cluster, robust_se = robust_se,
       concordance = unname(fit$concordance["concordance"]),
       concordance_se = unname(fit$concordance["std"]),
       zph_residuals = if (residuals) zph_resid_entry(fit) else NULL,
       zph_call = "cox.zph(fit, transform = t, terms = TRUE, global = TRUE)$table",
       zph = lapply(c("km", "rank", "identity"), function(tr) {
         z <- cox.zph(fit, transform = tr)$table
         list(transform = tr, terms = rownames(z), chisq = unname(z[, "chisq"]),
              df = unname(z[, "df"]), p = unname(z[, "p"]))
       }))
}

conc_entry <- function(dataset, label, time, event, x, strata = NULL, ymax = NULL) {
  if (is.null(strata)) {
    cf <- concordance(Surv(time, event) ~ x, reverse = TRUE, ymax = ymax)
    call <- "concordance(Surv(time, event) ~ x, reverse = TRUE)"
  } else {
    cf <- concordance(Surv(time, event) ~ x + strata(strata), reverse = TRUE, ymax = ymax)
    call <- "concordance(Surv(time, event) ~ x + strata(centre), reverse = TRUE)"
  }
  if (!is.null(ymax)) call <- paste0(call, sprintf(" with ymax = %g", ymax))
  list(dataset = dataset, subset = label, call = call, ymax = if (is.null(ymax)) NA else ymax,
       c = unname(cf$concordance), se = sqrt(unname(cf$var)),
       count = as.list(if (is.matrix(cf$count)) colSums(cf$count) else cf$count))
}

# ---------------------------------------------------------------- KM
km <- list(); rkm <- list(); lr <- list(); cx <- list(); cc <- list(); fe <- list()
conf_types <- c("plain", "log", "log-log", "logit", "arcsin")
for (ct in conf_types) {
  for (ep in c("os", "ttp")) for (g in levels(syn$group)) {
    d <- syn[syn$group == g, ]
    km[[length(km) + 1]] <- km_entry("synthetic", paste(ep, g, sep = ":"),
                                     d[[paste0("time_", ep)]], d[[paste0("event_", ep)]], ct)
  }
  km[[length(km) + 1]] <- km_entry("tiny", "all", tiny$time, tiny$event, ct)
  for (cs in unique(edge$case)) {
    d <- edge[edge$case == cs, ]
    km[[length(km) + 1]] <- km_entry("edge_cases", cs, d$time, d$event, ct)
  }
  km[[length(km) + 1]] <- km_entry("lung", "all", lung_x$time, lung_x$event, ct)
  km[[length(km) + 1]] <- km_entry("veteran", "trt2", vet_x$time[vet_x$trt == 2],
                                   vet_x$event[vet_x$trt == 2], ct)
}
for (ep in c("os", "ttp")) for (g in c("all", levels(syn$group))) {
  d <- if (g == "all") syn else syn[syn$group == g, ]
  rkm[[length(rkm) + 1]] <- reverse_km_entry("synthetic", paste(ep, g, sep = ":"),
                                             d[[paste0("time_", ep)]], d[[paste0("event_", ep)]])
}
rkm[[length(rkm) + 1]] <- reverse_km_entry("lung", "all", lung_x$time, lung_x$event)

# ---------------------------------------------------------------- log-rank
for (ep in c("os", "ttp")) {
  t <- syn[[paste0("time_", ep)]]; e <- syn[[paste0("event_", ep)]]
  lr[[length(lr) + 1]] <- logrank_entry("synthetic", ep, t, e, syn$group)
  lr[[length(lr) + 1]] <- logrank_entry("synthetic", ep, t, e, syn$group, syn$centre)
  for (pair in list(c("P1", "P2-4"), c("P1", "P5"), c("P2-4", "P5"))) {
    m <- syn$group %in% pair
    lr[[length(lr) + 1]] <- logrank_entry("synthetic", paste(ep, paste(pair, collapse = "|"), sep = ":"),
                                          t[m], e[m], droplevels(syn$group[m]))
  }
}
lr[[length(lr) + 1]] <- logrank_entry("tiny", "all", tiny$time, tiny$event, tiny$group)
lr[[length(lr) + 1]] <- logrank_entry("tiny", "all", tiny$time, tiny$event, tiny$group, tiny$centre)
d <- edge[edge$case == "all_censored_group", ]
lr[[length(lr) + 1]] <- logrank_entry("edge_cases", "all_censored_group", d$time, d$event, d$group)
lr[[length(lr) + 1]] <- logrank_entry("veteran", "celltype", vet_x$time, vet_x$event, vet_x$celltype)
lr[[length(lr) + 1]] <- logrank_entry("lung", "ph_ecog", lung_x$time[!is.na(lung_x$ph_ecog)],
                                      lung_x$event[!is.na(lung_x$ph_ecog)],
                                      lung_x$ph_ecog[!is.na(lung_x$ph_ecog)])

# ---------------------------------------------------------------- Cox
for (ep in c("os", "ttp")) {
  d <- syn
  d$time <- d[[paste0("time_", ep)]]; d$event <- d[[paste0("event_", ep)]]
  d$age10 <- d$age / 10
  d$log2ki67 <- log2(pmax(d$ki67, 1))
  cx[[length(cx) + 1]] <- cox_entry("synthetic", paste0(ep, ":primary"),
    Surv(time, event) ~ group + grade + age10 + extrahepatic + strata(centre), d,
    "coxph(Surv(time, event) ~ group + grade + I(age/10) + extrahepatic + strata(centre), ties = 'efron')",
    residuals = ep == "os")
  cx[[length(cx) + 1]] <- cox_entry("synthetic", paste0(ep, ":ki67"),
    Surv(time, event) ~ group + log2ki67 + age10 + extrahepatic + strata(centre), d,
    "coxph(Surv(time, event) ~ group + log2(pmax(ki67, 1)) + I(age/10) + extrahepatic + strata(centre))")
  cx[[length(cx) + 1]] <- cox_entry("synthetic", paste0(ep, ":centre_covariate"),
    Surv(time, event) ~ group + grade + age10 + extrahepatic + centre, d,
    "coxph(Surv(time, event) ~ group + grade + I(age/10) + extrahepatic + centre)",
    residuals = ep == "os")
  cx[[length(cx) + 1]] <- cox_entry("synthetic", paste0(ep, ":centre_clustered"),
    Surv(time, event) ~ group + grade + age10 + extrahepatic, d,
    "coxph(Surv(time, event) ~ group + grade + I(age/10) + extrahepatic, cluster = centre)",
    cluster = "centre")
  for (v in c("group", "grade", "log2ki67", "age10", "extrahepatic")) {
    f <- as.formula(paste("Surv(time, event) ~", v))
    cx[[length(cx) + 1]] <- cox_entry("synthetic", paste0(ep, ":univariable_", v), f, d,
                                      paste0("coxph(Surv(time, event) ~ ", v, ")"))
  }
}
cx[[length(cx) + 1]] <- cox_entry("tiny", "x", Surv(time, event) ~ x, tiny,
                                  "coxph(Surv(time, event) ~ x)")
cx[[length(cx) + 1]] <- cox_entry("tiny", "x_strata", Surv(time, event) ~ x + strata(centre), tiny,
                                  "coxph(Surv(time, event) ~ x + strata(centre))", residuals = TRUE)
# z is constant (0) within the stratum sex = 1: its scaled residuals there are NA
lung_z <- transform(lung_x[!is.na(lung_x$ph_ecog), ], z = ifelse(sex == 1, 0, ph_ecog))
cx[[length(cx) + 1]] <- cox_entry("lung", "age_z_strata_sex", Surv(time, event) ~ age + z + strata(sex),
                                  lung_z, "coxph(Surv(time, event) ~ age + z + strata(sex)), z = 0 if sex = 1 else ph.ecog",
                                  residuals = TRUE)
cx[[length(cx) + 1]] <- cox_entry("lung", "age_sex_ecog", Surv(time, event) ~ age + sex + ph_ecog,
                                  lung_x, "coxph(Surv(time, event) ~ age + sex + ph_ecog)",
                                  residuals = TRUE)
cx[[length(cx) + 1]] <- cox_entry("lung", "age_sex_ecog_cluster_inst",
                                  Surv(time, event) ~ age + sex + ph_ecog,
                                  lung_x[!is.na(lung_x$inst), ],
                                  "coxph(Surv(time, event) ~ age + sex + ph_ecog, cluster = inst)",
                                  cluster = "inst")
cx[[length(cx) + 1]] <- cox_entry("lung", "age_sex_strata_inst",
                                  Surv(time, event) ~ age + sex + strata(inst), lung_x,
                                  "coxph(Surv(time, event) ~ age + sex + strata(inst))",
                                  residuals = TRUE)

# ---------------------------------------------------------------- concordance
for (ep in c("os", "ttp")) {
  t <- syn[[paste0("time_", ep)]]; e <- syn[[paste0("event_", ep)]]
  cc[[length(cc) + 1]] <- conc_entry("synthetic", paste0(ep, ":netpet_group"), t, e, as.numeric(syn$group))
  m <- !is.na(syn$grade)
  cc[[length(cc) + 1]] <- conc_entry("synthetic", paste0(ep, ":grade"), t[m], e[m], as.numeric(syn$grade[m]))
  m <- !is.na(syn$ki67)
  cc[[length(cc) + 1]] <- conc_entry("synthetic", paste0(ep, ":ki67"), t[m], e[m], syn$ki67[m])
  cc[[length(cc) + 1]] <- conc_entry("synthetic", paste0(ep, ":netpet_group_by_centre"), t, e,
                                     as.numeric(syn$group), syn$centre)
  cc[[length(cc) + 1]] <- conc_entry("synthetic", paste0(ep, ":netpet_group_ymax36"), t, e,
                                     as.numeric(syn$group), ymax = 36)
}
cc[[length(cc) + 1]] <- conc_entry("tiny", "x", tiny$time, tiny$event, tiny$x)
cc[[length(cc) + 1]] <- conc_entry("tiny", "x_by_centre", tiny$time, tiny$event, tiny$x, tiny$centre)
cc[[length(cc) + 1]] <- conc_entry("lung", "age", lung_x$time, lung_x$event, lung_x$age)
cc[[length(cc) + 1]] <- conc_entry("veteran", "karno", vet_x$time, vet_x$event, -vet_x$karno)

# Uno's C and clustered standard errors
uno <- list(); cmp <- list()
uno_entry <- function(dataset, label, time, event, x, strata = NULL, ymax = NULL, cluster = NULL) {
  args <- list(reverse = TRUE, timewt = "n/G2")
  if (!is.null(ymax)) args$ymax <- ymax
  d <- data.frame(time = time, event = event, x = x)
  f <- Surv(time, event) ~ x
  if (!is.null(strata)) { d$s <- strata; f <- Surv(time, event) ~ x + strata(s) }
  if (!is.null(cluster)) { d$cl <- cluster; args$cluster <- d$cl; args$timewt <- "n" }
  cf <- do.call(concordance, c(list(f, data = d), args))
  list(dataset = dataset, subset = label,
       call = sprintf("concordance(Surv(time, event) ~ x%s, reverse = TRUE, timewt = '%s'%s%s)",
                      if (is.null(strata)) "" else " + strata(centre)", args$timewt,
                      if (is.null(ymax)) "" else sprintf(", ymax = %g", ymax),
                      if (is.null(cluster)) "" else ", cluster = centre"),
       timewt = args$timewt, ymax = if (is.null(ymax)) NA else ymax,
       stratified = !is.null(strata), clustered = !is.null(cluster),
       c = unname(cf$concordance), se = sqrt(unname(cf$var)))
}
for (ep in c("os", "ttp")) {
  t <- syn[[paste0("time_", ep)]]; e <- syn[[paste0("event_", ep)]]
  g <- as.numeric(syn$group)
  uno[[length(uno) + 1]] <- uno_entry("synthetic", paste0(ep, ":netpet_group"), t, e, g)
  uno[[length(uno) + 1]] <- uno_entry("synthetic", paste0(ep, ":netpet_group_by_centre"), t, e, g, syn$centre)
  uno[[length(uno) + 1]] <- uno_entry("synthetic", paste0(ep, ":netpet_group_ymax60"), t, e, g, ymax = 60)
  uno[[length(uno) + 1]] <- uno_entry("synthetic", paste0(ep, ":netpet_group_cluster_centre"), t, e, g,
                                      cluster = syn$centre)
  m <- !is.na(syn$ki67)
  uno[[length(uno) + 1]] <- uno_entry("synthetic", paste0(ep, ":ki67"), t[m], e[m], syn$ki67[m])
  # Two predictors on the same patients: C of each and their joint covariance
  m <- !is.na(syn$grade)
  d <- data.frame(time = t[m], event = e[m], g = as.numeric(syn$group[m]),
                  gr = as.numeric(syn$grade[m]))
  # (one-covariate Cox fits on the numeric codes: with a positive coefficient the
  #  linear predictor orders patients as the code does, so each C is the
  #  predictor's own C with reverse = TRUE)
  fg <- coxph(Surv(time, event) ~ g, data = d, control = cox_control)
  fgr <- coxph(Surv(time, event) ~ gr, data = d, control = cox_control)
  stopifnot(coef(fg) > 0, coef(fgr) > 0)
  cf <- concordance(fg, fgr)
  cmp[[length(cmp) + 1]] <- list(dataset = "synthetic", subset = paste0(ep, ":netpet_group_vs_grade"),
    call = "concordance(coxph(Surv ~ as.numeric(group)), coxph(Surv ~ as.numeric(grade))) on rows with grade",
    c = unname(cf$concordance), var = unname(cf$var))
  # Two fitted models: NETPET + grade vs grade alone, both stratified by centre
  d <- syn[m, ]; d$time <- t[m]; d$event <- e[m]
  f1 <- coxph(Surv(time, event) ~ group + grade + strata(centre), data = d, control = cox_control)
  f2 <- coxph(Surv(time, event) ~ grade + strata(centre), data = d, control = cox_control)
  cf <- concordance(f1, f2)
  cmp[[length(cmp) + 1]] <- list(dataset = "synthetic", subset = paste0(ep, ":models_netpet_grade_vs_grade"),
    call = "concordance(coxph(Surv ~ group + grade + strata(centre)), coxph(Surv ~ grade + strata(centre)))",
    c = unname(cf$concordance), var = unname(cf$var))
}
uno[[length(uno) + 1]] <- uno_entry("tiny", "x", tiny$time, tiny$event, tiny$x)
uno[[length(uno) + 1]] <- uno_entry("tiny", "x_by_centre", tiny$time, tiny$event, tiny$x, tiny$centre)
uno[[length(uno) + 1]] <- uno_entry("lung", "age", lung_x$time, lung_x$event, lung_x$age)

# ---------------------------------------------------------------- generic cases
# One table of cases (time, event, group, x, centre), each run through every
# estimator: edge cases, whole-month ties, and the public colon data set.
monthly <- data.frame(case = "synthetic_whole_months", time = ceiling(syn$time_os),
                      event = syn$event_os, group = as.character(syn$group), x = syn$age,
                      centre = syn$centre)
colon_d <- survival::colon[survival::colon$etype == 2 & !is.na(survival::colon$nodes), ]
colon_x <- data.frame(case = "colon_death", time = colon_d$time, event = colon_d$status,
                      group = as.character(colon_d$rx), x = colon_d$nodes,
                      centre = ifelse(colon_d$sex == 1, "male", "female"))
generic <- rbind(monthly, colon_x,
                 edge[edge$case %in% c("four_patient_group", "centre_no_events",
                                       "all_censored_group"), c("case", "time", "event", "group", "x", "centre")])
write.csv(generic, file.path(data_dir, "generic_cases.csv"), row.names = FALSE)
gen <- list()
for (cs in unique(generic$case)) {
  d <- generic[generic$case == cs, ]
  d$g <- factor(d$group)
  entry <- list(case = cs, groups = levels(d$g))
  entry$km <- lapply(levels(d$g), function(gg) {
    k <- d[d$g == gg, ]
    f <- survfit(Surv(time, event) ~ 1, data = k, conf.type = "log-log")
    q <- quantile(f, 0.5)
    list(group = gg, surv = f$surv, lower = num(f$lower), upper = num(f$upper),
         median = num(q$quantile), median_lower = num(q$lower), median_upper = num(q$upper))
  })
  sd0 <- survdiff(Surv(time, event) ~ g, data = d)
  sd1 <- survdiff(Surv(time, event) ~ g + strata(centre), data = d)
  entry$logrank_chisq <- sd0$chisq
  entry$logrank_strat_chisq <- sd1$chisq
  entry$trend_chisq <- coxph(Surv(time, event) ~ as.numeric(g), data = d, ties = "exact")$score
  f <- coxph(Surv(time, event) ~ x, data = d, control = cox_control)
  fs <- coxph(Surv(time, event) ~ x + strata(centre), data = d, control = cox_control)
  entry$cox_coef <- unname(coef(f)); entry$cox_se <- unname(sqrt(diag(vcov(f))))
  entry$cox_strat_coef <- unname(coef(fs)); entry$cox_strat_se <- unname(sqrt(diag(vcov(fs))))
  cf <- concordance(Surv(time, event) ~ x, data = d, reverse = TRUE)
  cfs <- concordance(Surv(time, event) ~ x + strata(centre), data = d, reverse = TRUE)
  entry$c <- unname(cf$concordance); entry$c_se <- sqrt(unname(cf$var))
  entry$c_strat <- unname(cfs$concordance); entry$c_strat_se <- sqrt(unname(cfs$var))
  cu <- concordance(Surv(time, event) ~ x, data = d, reverse = TRUE, timewt = "n/G2")
  entry$uno_c <- unname(cu$concordance); entry$uno_se <- sqrt(unname(cu$var))
  fz <- coxph(Surv(time, event) ~ x, data = d, control = cox_control, x = TRUE, y = TRUE, model = TRUE)
  fzs <- coxph(Surv(time, event) ~ x + strata(centre), data = d, control = cox_control,
               x = TRUE, y = TRUE, model = TRUE)
  entry$zph_km <- unname(cox.zph(fz, transform = "km")$table[1, "chisq"])
  entry$zph_strat_rank <- unname(cox.zph(fzs, transform = "rank")$table[1, "chisq"])
  rq <- quantile(survfit(Surv(time, 1 - event) ~ 1, data = d), 0.5)
  entry$follow_up <- num(c(rq$quantile, rq$lower, rq$upper))
  pairs <- combn(levels(d$g), 2)
  pw <- apply(pairs, 2, function(pr) {
    k <- d[d$g %in% pr, ]
    sdp <- survdiff(Surv(time, event) ~ droplevels(g), data = k)
    pchisq(sdp$chisq, 1, lower.tail = FALSE)
  })
  entry$pairwise_p <- unname(pw)
  entry$pairwise_holm <- p.adjust(pw, method = "holm")
  entry$calls <- c("survfit(conf.type = 'log-log') by group; quantile(fit, 0.5)",
                   "survdiff(Surv ~ group [+ strata(centre)])",
                   "coxph(Surv ~ as.numeric(group), ties = 'exact')$score",
                   "coxph(Surv ~ x [+ strata(centre)])",
                   "concordance(Surv ~ x [+ strata(centre)], reverse = TRUE)",
                   "concordance(Surv ~ x, reverse = TRUE, timewt = 'n/G2')",
                   "cox.zph(coxph(Surv ~ x), 'km'); cox.zph(coxph(Surv ~ x + strata(centre)), 'rank')",
                   "quantile(survfit(Surv(time, 1 - event) ~ 1), 0.5)",
                   "p.adjust(pairwise survdiff p-values, method = 'holm')")
  gen[[length(gen) + 1]] <- entry
}

# ---------------------------------------------------------------- association
m <- !is.na(syn$grade)
tab <- table(syn$group[m], syn$grade[m])
fe[[1]] <- list(dataset = "synthetic", subset = "group_x_grade",
                call = "fisher.test(table(group, grade), workspace = 2e8); chisq.test(correct = FALSE)",
                table = unclass(as.matrix(tab)),
                fisher_p = fisher.test(tab, workspace = 2e8)$p.value,
                chisq = unname(chisq.test(tab, correct = FALSE)$statistic),
                chisq_p = chisq.test(tab, correct = FALSE)$p.value)
small <- matrix(c(3, 1, 0, 2, 4, 1, 0, 2, 5), nrow = 3)
fe[[2]] <- list(dataset = "hand", subset = "3x3_small", call = "fisher.test(matrix)",
                table = small, fisher_p = fisher.test(small)$p.value,
                chisq = unname(suppressWarnings(chisq.test(small, correct = FALSE))$statistic),
                chisq_p = suppressWarnings(chisq.test(small, correct = FALSE))$p.value)
two <- matrix(c(8, 2, 1, 5), nrow = 2)
fe[[3]] <- list(dataset = "hand", subset = "2x2", call = "fisher.test(matrix)", table = two,
                fisher_p = fisher.test(two)$p.value,
                chisq = unname(suppressWarnings(chisq.test(two, correct = FALSE))$statistic),
                chisq_p = suppressWarnings(chisq.test(two, correct = FALSE))$p.value)

# ---------------------------------------------------------------- timefix (aeqSurv)
# survival >= 3.0 treats times closer than sqrt(.Machine$double.eps) (absolutely, or
# relative to the mean time) as tied. Lung with every other time multiplied by
# 1 + 1e-12: R's estimates equal those on the exact times.
tf <- lung_x[complete.cases(lung_x[, c("time", "event", "age", "sex")]),
             c("time", "event", "age", "sex")]
tf$noisy <- tf$time * ifelse(seq_len(nrow(tf)) %% 2 == 0, 1 + 1e-12, 1)
tf_km <- survfit(Surv(noisy, event) ~ 1, data = tf)
tf_cox <- coxph(Surv(noisy, event) ~ age + sex, data = tf, control = cox_control)
tf_c <- concordance(Surv(noisy, event) ~ age, data = tf, reverse = TRUE)
hand <- data.frame(time = c(5.000000000001, 5, 3, 8, 8.0000000001), event = c(1, 0, 1, 1, 0))
hand_km <- survfit(Surv(time, event) ~ 1, data = hand)
timefix <- list(
  call = c("tf$noisy <- time * (1 + 1e-12) for every other complete lung case",
           "survfit(Surv(noisy, event) ~ 1)", "survdiff(Surv(noisy, event) ~ sex)",
           "coxph(Surv(noisy, event) ~ age + sex)",
           "concordance(Surv(noisy, event) ~ age, reverse = TRUE)",
           "survfit(Surv(time, event) ~ 1) on the hand example"),
  noisy = tf$noisy, km_time = tf_km$time, km_surv = tf_km$surv,
  logrank_chisq = survdiff(Surv(noisy, event) ~ sex, data = tf)$chisq,
  cox_coef = unname(coef(tf_cox)), cox_loglik = tf_cox$loglik[2],
  c = unname(tf_c$concordance), c_se = sqrt(tf_c$var),
  exact = list(km_surv = survfit(Surv(time, event) ~ 1, data = tf)$surv,
               cox_coef = unname(coef(coxph(Surv(time, event) ~ age + sex, data = tf,
                                            control = cox_control)))),
  hand_time = hand$time, hand_event = hand$event,
  hand_km_time = hand_km$time, hand_km_surv = hand_km$surv, hand_km_n_risk = hand_km$n.risk)

result <- list(
  generated_by = "tests/survival/survival_reference.R",
  r_version = R.version.string,
  survival_version = as.character(packageVersion("survival")),
  km = km, reverse_km = rkm, logrank = lr, cox = cx, concordance = cc,
  concordance_weighted = uno, concordance_comparison = cmp, generic = gen,
  association = fe, timefix = timefix)
writeLines(toJSON(result, digits = NA, na = "null", auto_unbox = TRUE, pretty = TRUE),
           file.path(out_dir, "survival_reference.json"))
cat("wrote", file.path(out_dir, "survival_reference.json"), "\n")

# Validation fixtures (Rotterdam/GBSG, rms::validate, internal-external CV) need
# riskRegression and rms as well; they live in their own script.
if (requireNamespace("riskRegression", quietly = TRUE) && requireNamespace("rms", quietly = TRUE)) {
  source("tests/validation/validation_reference.R")
} else {
  message("riskRegression or rms missing: validation_reference.json not regenerated")
}
