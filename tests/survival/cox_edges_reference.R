# Reference values for Cox models at the edges (tests/survival/test_cox_edges.py):
#
# * cox.zph's per-stratum rules: a centre with a single patient, and a factor with a
#   level absent from one centre (its scaled Schoenfeld residuals $y, $var and the
#   smooth plot.cox.zph draws);
# * where coxph's Newton-Raphson stops with R's default coxph.control (eps = 1e-9,
#   iter.max = 20, toler.inf = sqrt(eps)): a coefficient that may be infinite (a binary
#   covariate whose level has no events, unstratified and stratified; a centre without
#   events as a covariate), and a fit that runs out of iterations without naming a
#   variable (a perfect ordering of the events by the covariates: the log likelihood
#   tends to 0, so its relative change never falls below eps).
#
#     Rscript tests/survival/cox_edges_reference.R
#
# Needs r-base-core, r-cran-survival and r-cran-jsonlite (Debian packages). Every fit uses
# R's default control, as a user's coxph() call does. The data of each case are written
# into the JSON beside R's values; CI reads the JSON and needs no R.
suppressPackageStartupMessages({
  library(survival)
  library(jsonlite)
})
here <- dirname(sub("--file=", "", grep("--file=", commandArgs(FALSE), value = TRUE)))

# R's warnings are part of the answer: record them instead of printing them.
with_warnings <- function(expr) {
  msgs <- character()
  value <- withCallingHandlers(expr, warning = function(w) {
    msgs <<- c(msgs, conditionMessage(w))
    invokeRestart("muffleWarning")
  })
  list(value = value, warnings = msgs)
}

# What plot.cox.zph draws (df = 4, nsmo = 40): the lines of its source that compute the
# spline and its band, returning them instead of drawing.
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

edge_case <- function(name, description, data, covariates, strata = NULL) {
  rhs <- paste(c(covariates, if (!is.null(strata)) sprintf("strata(%s)", strata)),
               collapse = " + ")
  formula <- as.formula(paste("Surv(time, event) ~", rhs))
  fitted <- with_warnings(coxph(formula, data = data, ties = "efron", x = TRUE, y = TRUE,
                                model = TRUE))
  fit <- fitted$value
  # drop1(fit, test = "Chisq"): each term's likelihood-ratio test, the reduced model
  # refitted with the same (default) control
  drop1_lrt <- sapply(covariates, function(term) {
    if (length(covariates) < 2) return(2 * (fit$loglik[2] - fit$loglik[1]))
    reduced <- with_warnings(update(fit, as.formula(paste(". ~ . -", term))))$value
    2 * (fit$loglik[2] - reduced$loglik[2])
  })
  # cox.zph stops ("system is computationally singular") when the information of its
  # score test is singular, as it is at some stopping points of a diverging fit
  zph_error <- tryCatch({ cox.zph(fit, transform = "km"); NULL },
                        error = function(e) conditionMessage(e))
  entry <- list(
    name = name, description = description,
    call = sprintf("coxph(Surv(time, event) ~ %s, ties = 'efron') with coxph.control() defaults", rhs),
    data = data, covariates = covariates, strata = if (is.null(strata)) NA else strata,
    warnings = fitted$warnings, iter = fit$iter,
    coef_names = names(coef(fit)), coef = unname(coef(fit)),
    se = unname(sqrt(diag(vcov(fit)))), var = unname(vcov(fit)),
    loglik = fit$loglik, lrt = 2 * (fit$loglik[2] - fit$loglik[1]),
    wald = unname(fit$wald.test), score = unname(fit$score),
    drop1_call = "2 * (fit$loglik[2] - update(fit, . ~ . - term)$loglik[2])",
    drop1_terms = covariates, drop1_lrt = unname(drop1_lrt),
    zph_call = "cox.zph(fit, transform = t)$table",
    zph_error = if (is.null(zph_error)) NA else zph_error)
  if (!is.null(zph_error)) return(entry)
  z <- cox.zph(fit, transform = "km")
  c(entry, list(
    zph = lapply(c("km", "rank", "identity"), function(tr) {
      tab <- cox.zph(fit, transform = tr)$table
      list(transform = tr, terms = rownames(tab), chisq = unname(tab[, "chisq"]),
           df = unname(tab[, "df"]), p = unname(tab[, "p"]))
    }),
    zph_residuals = list(
      call = "cox.zph(fit, transform = 'km')$x, $time, $strata, $y, $var; plot.cox.zph smooth",
      x = unname(z$x), time = unname(z$time),
      strata = if (is.null(z$strata)) NA else as.character(z$strata),
      terms = colnames(z$y),
      y = lapply(seq_len(ncol(z$y)), function(i) unname(z$y[, i])),
      var = unname(z$var), smooth = zph_smooth(z))))
}

cases <- list()

# ---------------------------------------------------------------- cox.zph per stratum
set.seed(20261127)
base <- function(n, centres) {
  data.frame(time = round(rexp(n, 0.08), 1) + 0.1, event = rbinom(n, 1, 0.75),
             x = round(rnorm(n), 2), g = sample(c("a", "b", "c"), n, TRUE),
             centre = sample(centres, n, TRUE), stringsAsFactors = FALSE)
}
# centre B has one patient (an event): no covariate varies there, so cox.zph counts no
# event of B in its strata groups, and the rows after it are scaled by the wrong centre
d <- base(44, c("A", "C"))
d <- rbind(d[1:20, ], data.frame(time = 5.05, event = 1, x = 0.3, g = "b", centre = "B"),
           d[21:44, ])
cases[[length(cases) + 1]] <- edge_case(
  "one_patient_centre", "centre B has a single patient, who has an event",
  d, c("x", "g"), "centre")
# the single patient's centre sorts last (Z): its event keeps its unscaled residual
d <- base(44, c("A", "C"))
d <- rbind(d, data.frame(time = 7.25, event = 1, x = -0.4, g = "c", centre = "Z"))
cases[[length(cases) + 1]] <- edge_case(
  "one_patient_centre_last", "centre Z, last of the strata, has a single patient with an event",
  d, c("x", "g"), "centre")
# level c of g is absent from centre C: g[c] is constant there, g[b] is not
d <- base(70, c("A", "B", "C"))
d$g[d$centre == "C" & d$g == "c"] <- "a"
cases[[length(cases) + 1]] <- edge_case(
  "level_missing_in_centre", "level c of the factor g is absent from centre C",
  d, c("x", "g"), "centre")

# ---------------------------------------------------------------- divergent coefficients
set.seed(11)
n <- 60
d <- data.frame(time = round(rexp(n, 0.08), 1) + 0.1, event = rbinom(n, 1, 0.75),
                x = round(rnorm(n), 2), g = sample(c("a", "b", "c"), n, TRUE),
                centre = sample(c("A", "B", "C"), n, TRUE), h = rbinom(n, 1, 0.3),
                stringsAsFactors = FALSE)
d$event[d$h == 1] <- 0     # no patient with h = 1 has an event
cases[[length(cases) + 1]] <- edge_case(
  "infinite_binary", "h = 1 has no events: its coefficient tends to -Inf",
  d, c("x", "g", "h"))
cases[[length(cases) + 1]] <- edge_case(
  "infinite_binary_stratified", "h = 1 has no events, model stratified by centre",
  d, c("x", "g", "h"), "centre")
d2 <- d[, c("time", "event", "x", "g", "centre")]
d2$event <- ifelse(d$h == 1, rbinom(n, 1, 0.75), d$event)
d2$event[d2$centre == "C"] <- 0    # centre C has no events
cases[[length(cases) + 1]] <- edge_case(
  "infinite_centre_covariate", "centre C has no events, centre a covariate",
  d2, c("x", "g", "centre"))

# ---------------------------------------------------------------- out of iterations
# Each event has the highest risk score of its risk set: the log likelihood rises to 0
# as the coefficients grow, its relative change stays near 1, and coxph stops after
# iter.max = 20 with "Ran out of iterations and did not converge" naming no variable.
# Its variance is then the inverse of the information's diagonal (coxfit6.c inverts an
# information matrix it has not decomposed).
d <- data.frame(time = 1:8, event = c(1, 1, 1, 1, 0, 1, 1, 0),
                x = c(8, 7, 6.5, 5, 4, 3.2, 2, 1), w = c(1, 3, 2, 5, 4, 2, 3, 1))
cases[[length(cases) + 1]] <- edge_case(
  "out_of_iterations", "events in the order of x: the likelihood rises to 0",
  d, c("x", "w"))
d <- data.frame(time = c(1, 2, 3, 4), event = c(1, 0, 1, 1), x = c(1, 3, 2, 5))
cases[[length(cases) + 1]] <- edge_case(
  "out_of_iterations_one_covariate", "four patients, events in the reverse order of x",
  d, "x")
out <- list(generated_by = "tests/survival/cox_edges_reference.R",
            r_version = R.version.string,
            survival_version = as.character(packageVersion("survival")),
            control = coxph.control(), cases = cases)
writeLines(toJSON(out, digits = NA, na = "null", auto_unbox = TRUE, pretty = TRUE),
           file.path(here, "cox_edges_reference.json"))
cat("wrote", file.path(here, "cox_edges_reference.json"), "\n")
