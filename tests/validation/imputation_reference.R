# Reference values for pooling multiply imputed Cox analyses
# (netpet_stats.survival.rubin: pool, pool_cox, d1_test, pool_transformed).
#
# Regenerate (from the repository root):
#     Rscript tests/validation/imputation_reference.R
# Needs: r-base-core, r-cran-survival, r-cran-jsonlite, r-cran-mice (Debian; brings
# mitml for D1), and MASS and nnet (R's recommended packages). Output: tests/validation/imputation_reference.json.
#
# Input: tests/validation/imputed/incomplete.csv and imputation_1..5.csv, written by
# netpet_stats.validation.imputation (tests/validation/imputation_fixture.py) on 153
# simulated patients of the bundled synthetic cohort. They are read as a mids object
# (as.mids) and analysed by with() / pool() / D1(), mice's own route.

suppressPackageStartupMessages({
  library(survival)
  library(mice)
  library(jsonlite)
  library(MASS)
  library(nnet)
})

dir <- "tests/validation/imputed"
m <- 5L
read_one <- function(path) {
  d <- read.csv(path, stringsAsFactors = FALSE)
  d$netpet_group <- factor(d$netpet_group, levels = c("P1", "P2-4", "P5"))
  d$grade <- factor(d$grade, levels = c("G1", "G2", "G3"))
  d$centre <- factor(d$centre)
  d
}
incomplete <- read_one(file.path(dir, "incomplete.csv"))
sets <- lapply(seq_len(m), function(i) read_one(file.path(dir, sprintf("imputation_%d.csv", i))))
long <- do.call(rbind, c(list(cbind(.imp = 0L, .id = seq_len(nrow(incomplete)), incomplete)),
                         lapply(seq_len(m), function(i)
                           cbind(.imp = i, .id = seq_len(nrow(incomplete)), sets[[i]]))))
imp <- as.mids(long)

# The models of the test, in the package's coding: Ki-67 per doubling (log2 with a
# floor of 1), age per 10 years; one stratified by centre, one not.
models <- list(
  ki67 = list(
    full = "Surv(os_time, os_event) ~ netpet_group + log2(pmax(ki67, 1)) + I(age / 10) + extrahepatic + strata(centre)",
    terms = c(netpet_group = "netpet_group", ki67 = "log2(pmax(ki67, 1))",
              age = "I(age / 10)", extrahepatic = "extrahepatic"),
    strata = " + strata(centre)"),
  grade = list(
    full = "Surv(ttp_time, ttp_event) ~ netpet_group + grade + log2(pmax(ki67, 1)) + I(age / 10)",
    terms = c(netpet_group = "netpet_group", grade = "grade", ki67 = "log2(pmax(ki67, 1))",
              age = "I(age / 10)"),
    strata = ""))

out <- list(R = R.version.string, survival = as.character(packageVersion("survival")),
            mice = as.character(packageVersion("mice")),
            mitml = as.character(packageVersion("mitml")), models = list())
for (name in names(models)) {
  spec <- models[[name]]
  fit <- eval(parse(text = sprintf("with(imp, coxph(%s))", spec$full)))
  p <- pool(fit)
  s <- summary(p, conf.int = TRUE)
  pooled <- p$pooled
  d1 <- list()
  for (tn in names(spec$terms)) {
    others <- setdiff(spec$terms, spec$terms[[tn]])
    lhs <- sub("~.*", "", spec$full)
    f0 <- paste(lhs, "~", paste(others, collapse = " + "), spec$strata)
    fit0 <- eval(parse(text = sprintf("with(imp, coxph(%s))", f0)))
    r <- D1(fit, fit0)$result
    d1[[tn]] <- list(statistic = r[1, "F.value"], df1 = r[1, "df1"], df2 = r[1, "df2"],
                     p = r[1, "P(>F)"], riv = r[1, "RIV"])
  }
  # per-imputation estimates and covariances (what Python pools)
  per <- lapply(fit$analyses, function(a) list(coef = unname(coef(a)),
                                               vcov = unname(vcov(a))))
  out$models[[name]] <- list(
    term = as.character(s$term), estimate = s$estimate, se = s$std.error,
    statistic = s$statistic, df = s$df, p = s$p.value,
    lower = s[["2.5 %"]], upper = s[["97.5 %"]],
    ubar = pooled$ubar, b = pooled$b, t = pooled$t, dfcom = pooled$dfcom[1],
    riv = pooled$riv, lambda = pooled$lambda, fmi = pooled$fmi, d1 = d1, per = per)
}

# Harrell's C of the unstratified model's linear predictor and O/E at 36 months in
# each imputation, pooled by the formulas of Marshall et al. (2009): C on the logit
# scale (SE by the delta method), O/E on the log scale (SE of log O/E from the
# Greenwood variance of 1 - KM), Rubin's rules with dfcom = Inf and a t interval.
rubin <- function(q, u) {
  k <- length(q)
  qbar <- mean(q); ubar <- mean(u); b <- var(q); t <- ubar + (1 + 1 / k) * b
  df <- mice:::barnard.rubin(k, b, t, Inf)
  riv <- (1 + 1 / k) * b / ubar
  list(qbar = qbar, t = t, df = df, fmi = (riv + 2 / (df + 3)) / (riv + 1),
       half = qt(0.975, df) * sqrt(t))
}
fitg <- eval(parse(text = sprintf("with(imp, coxph(%s))", models$grade$full)))
cs <- ses <- oe <- se_log <- numeric(m)
for (i in seq_len(m)) {
  a <- fitg$analyses[[i]]
  cc <- concordance(a)
  cs[i] <- cc$concordance; ses[i] <- sqrt(cc$var)
  d <- sets[[i]]
  pred <- summary(survfit(a, newdata = d), times = 36)$surv
  km <- summary(survfit(Surv(ttp_time, ttp_event) ~ 1, data = d), times = 36)
  obs <- 1 - km$surv
  oe[i] <- obs / mean(1 - as.vector(pred))
  se_log[i] <- km$std.err / obs  # summary.survfit std.err is the SE of S(t)
}
rc <- rubin(qlogis(cs), (ses / (cs * (1 - cs)))^2)
ro <- rubin(log(oe), se_log^2)
out$c <- list(per_c = cs, per_se = ses, estimate = plogis(rc$qbar),
              lower = plogis(rc$qbar - rc$half), upper = plogis(rc$qbar + rc$half),
              df = rc$df, fmi = rc$fmi)
out$oe <- list(per_oe = oe, per_se_log = se_log, estimate = exp(ro$qbar),
               lower = exp(ro$qbar - ro$half), upper = exp(ro$qbar + ro$half),
               df = ro$df, fmi = ro$fmi, horizon = 36)

# The conditional models of the categorical imputations, unweighted, on the first
# imputed set: proportional odds (MASS::polr; its Hessian is optim's numerical one) and
# multinomial logistic (nnet::multinom, to a relative tolerance of 1e-14).
d1 <- sets[[1]]
po <- MASS::polr(grade ~ age + extrahepatic + os_event, data = d1, Hess = TRUE,
                 control = list(reltol = 1e-14))
mn <- nnet::multinom(grade ~ age + extrahepatic + os_event, data = d1, trace = FALSE,
                     reltol = 1e-14, maxit = 1000)
out$polr <- list(coef = unname(coef(po)), zeta = unname(po$zeta),
                 se = unname(sqrt(diag(vcov(po)))))
out$multinom <- list(coef = unname(coef(mn)), se = unname(sqrt(diag(vcov(mn)))))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE),
           "tests/validation/imputation_reference.json")
