# Reference values for the scaled Schoenfeld residuals of each contrast of a factor
# (tests/survival/test_zph_contrasts.py): R's cox.zph(fit, transform = "km",
# terms = FALSE), whose $y has one column per coefficient (beta_j(t) of a contrast, not
# the beta(t)/beta of the whole factor that terms = TRUE gives), and the smooth and band
# plot.cox.zph draws for each column (one panel per contrast).
#
#     Rscript tests/survival/zph_contrasts_reference.R
#
# Needs r-base-core, r-cran-survival and r-cran-jsonlite (Debian packages). Cases: R's
# lung (ph.ecog 0-2 as a factor, with age and sex); the same stratified by institution
# (levels absent from some institutions: with terms = FALSE each contrast counts as used
# in a stratum only where it varies there); the bundled synthetic cohort's primary model
# (NETPET group, grade, age per 10 years, extrahepatic disease, stratified by centre).
suppressPackageStartupMessages({
  library(survival)
  library(jsonlite)
})
here <- dirname(sub("--file=", "", grep("--file=", commandArgs(FALSE), value = TRUE)))
root <- normalizePath(file.path(here, "..", ".."))

cox_control <- coxph.control(eps = 1e-12, toler.chol = 1e-14, iter.max = 100)

# What plot.cox.zph draws (survival 3.x, df = 4, nsmo = 40), per column of $y: the same
# lines as its source, returning the values instead of drawing them.
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
    list(column = colnames(z$y)[i], x = pred.x, estimate = c(yhat),
         lower = c(yhat - half), upper = c(yhat + half))
  })
}

entry <- function(name, fit, formula_text) {
  z <- cox.zph(fit, transform = "km", terms = FALSE)
  list(name = name, formula = formula_text,
       call = "cox.zph(fit, transform = 'km', terms = FALSE)$x, $time, $strata, $y, $var; plot.cox.zph smooth",
       coef = unname(coef(fit)), columns = colnames(z$y),
       x = unname(z$x), time = unname(z$time),
       strata = if (is.null(z$strata)) NA else as.character(z$strata),
       y = lapply(seq_len(ncol(z$y)), function(i) unname(z$y[, i])),
       var = unname(z$var), smooth = zph_smooth(z))
}

lung <- read.csv(file.path(root, "tests", "data", "lung.csv"))
lung <- lung[!is.na(lung$ph_ecog) & lung$ph_ecog < 3, ]
lung$ph_ecog <- factor(lung$ph_ecog, levels = 0:2)
f1 <- coxph(Surv(time, event) ~ age + sex + ph_ecog, data = lung, ties = "efron",
            control = cox_control)

inst <- read.csv(file.path(root, "tests", "data", "lung_inst.csv"), stringsAsFactors = FALSE)
inst <- inst[inst$ph_ecog < 3, ]
inst$ph_ecog <- factor(inst$ph_ecog, levels = 0:2)
f2 <- coxph(Surv(time, status) ~ age + sex + ph_ecog + strata(centre), data = inst,
            ties = "efron", control = cox_control)

coh <- read.csv(file.path(root, "data", "synthetic", "cohort.csv"), stringsAsFactors = FALSE)
grp <- ifelse(coh$netpet == "P1", "P1",
       ifelse(coh$netpet %in% c("P2", "P3", "P4", "P4a", "P4b"), "P2-4",
       ifelse(coh$netpet == "P5", "P5", NA)))
syn <- data.frame(time = coh$os_months, event = coh$os_event,
                  group = factor(grp, levels = c("P1", "P2-4", "P5")),
                  grade = factor(ifelse(coh$who_grade == "", NA, coh$who_grade),
                                 levels = c("G1", "G2", "G3")),
                  age = coh$age_at_diagnosis / 10,
                  extrahepatic = as.integer(coh$extrahepatic_disease == "yes"),
                  centre = coh$centre, stringsAsFactors = FALSE)
syn <- syn[complete.cases(syn), ]
f3 <- coxph(Surv(time, event) ~ group + grade + age + extrahepatic + strata(centre),
            data = syn, ties = "efron", control = cox_control)

out <- list(
  survival_version = as.character(packageVersion("survival")),
  r_version = R.version.string,
  cases = list(
    entry("lung_ecog", f1, "Surv(time, event) ~ age + sex + factor(ph_ecog), ph_ecog < 3"),
    entry("lung_inst_strata", f2,
          "Surv(time, status) ~ age + sex + factor(ph_ecog) + strata(centre), ph_ecog < 3"),
    entry("synthetic_primary", f3,
          "Surv(os_months, os_event) ~ group + grade + I(age/10) + extrahepatic + strata(centre)")))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, na = "null", pretty = TRUE),
           file.path(here, "zph_contrasts_reference.json"))
