# Reference values for the edges of the speed changes' fast paths
# (tests/survival/test_speed_edges.py):
#
# * coxph (ties = "efron" and "breslow") on heavily tied data: every subject dying at
#   one time, many deaths and censorings at the same times, strata with non-integer
#   case weights, delayed entry, a covariate offset by 10^6 or scaled by 10^6, and two
#   nearly collinear covariates (the tied deaths' sums of the compiled and numpy loops);
# * coxph with strata(a, b, c) of text, whole-number and logical columns, one with
#   missing values (the strata codes);
# * concordance(reverse = TRUE, timewt = "n", ymax = ) with tied times and predictors,
#   ymax at an event time, and tiny samples (HarrellPairs and harrell_c);
# * aeqSurv on whole numbers near 1/tol = 2^26 and beyond, and on noisy times (timefix);
# * quantile.survfit where a confidence curve has missing points (km_quantiles).
#
#     Rscript tests/survival/speed_edges_reference.R
#
# Needs r-base-core, r-cran-survival and r-cran-jsonlite. The data of each case are
# written into the JSON beside R's values; CI reads the JSON and needs no R.
suppressPackageStartupMessages({
  library(survival)
  library(jsonlite)
})
here <- dirname(sub("--file=", "", grep("--file=", commandArgs(FALSE), value = TRUE)))

set.seed(20261208)
n <- 240
heavy <- data.frame(
  time = sample(1:5, n, replace = TRUE),
  event = rbinom(n, 1, 0.6),
  x1 = round(rnorm(n), 3),
  x2 = rbinom(n, 1, 0.4),
  age = round(rnorm(n, 60, 10), 1),
  g = sample(c("a", "b", "c"), n, replace = TRUE),
  w = round(runif(n, 0.2, 3), 3)
)
heavy$start <- pmax(0, heavy$time - sample(1:4, n, replace = TRUE))
heavy$big <- 1e6 + heavy$x1                # a covariate offset by 10^6
heavy$huge <- 1e6 * heavy$x1               # and one scaled by 10^6
heavy$near <- heavy$x1 + round(1e-4 * rnorm(n), 8)   # nearly collinear with x1
heavy$tiny <- 1e-7 * heavy$x1                # a covariate in units 10^7 times larger
heavy$offtiny <- 1 + 1e-7 * heavy$x1         # and one far from 0 for its spread
heavy$off100 <- 100 + 1e-5 * heavy$x1        # (uncentred sums: step halving failed)

same <- data.frame(time = rep(7, 15), event = rep(1, 15),
                   x1 = round(rnorm(15), 3), x2 = rbinom(15, 1, 0.5))

# one death at each time, with 0-3 censorings at the same time (Efron's one-death path
# inside a block of several rows)
set.seed(99)
single <- do.call(rbind, lapply(1:45, function(k) {
  m <- 1 + rpois(1, 1.2)
  data.frame(time = k, event = c(1, rep(0, m - 1)))
}))
single$x1 <- round(rnorm(nrow(single)), 3)
single$x2 <- rbinom(nrow(single), 1, 0.5)

# cox.zph re-evaluates the call in the global environment: the data are named there
cox_case <- function(name, formula, dname, ties, weights = NULL, xcols, zph = FALSE) {
  fit <- if (is.null(weights)) {
    eval(bquote(coxph(.(formula), data = .(as.name(dname)), ties = .(ties))))
  } else {
    eval(bquote(coxph(.(formula), data = .(as.name(dname)), ties = .(ties),
                      weights = w)))   # the column w
  }
  out <- list(name = name, ties = ties, formula = deparse(formula), data = dname,
              xcols = xcols, weights = weights,
              coef = unname(coef(fit)), loglik = unname(fit$loglik),
              naive_var = unname(if (is.null(fit$naive.var)) fit$var else fit$naive.var))
  if (zph) {   # the per-time score and information (cox.zph, km transform)
    z <- cox.zph(fit, transform = "km")
    out$zph_chisq <- unname(z$table[, "chisq"])
  }
  out
}

cox <- list()
for (ties in c("efron", "breslow")) {
  cox <- c(cox, list(
    cox_case("all_die_at_once", Surv(time, event) ~ x1 + x2, "same", ties, xcols = c("x1", "x2")),
    cox_case("heavy_ties", Surv(time, event) ~ x1 + x2 + age, "heavy", ties,
             xcols = c("x1", "x2", "age"), zph = TRUE),
    cox_case("one_death_with_censored_ties", Surv(time, event) ~ x1 + x2, "single", ties,
             xcols = c("x1", "x2"), zph = TRUE),
    cox_case("strata_weights", Surv(time, event) ~ x1 + x2 + strata(g), "heavy", ties,
             weights = "w", xcols = c("x1", "x2")),
    cox_case("delayed_entry", Surv(start, time, event) ~ x1 + age, "heavy", ties,
             xcols = c("x1", "age")),
    cox_case("offset_1e6", Surv(time, event) ~ big + x2, "heavy", ties, xcols = c("big", "x2")),
    cox_case("scale_1e6", Surv(time, event) ~ huge + x2, "heavy", ties, xcols = c("huge", "x2")),
    cox_case("near_collinear", Surv(time, event) ~ x1 + near, "heavy", ties,
             xcols = c("x1", "near")),
    cox_case("scale_1e-7", Surv(time, event) ~ tiny + x2, "heavy", ties,
             xcols = c("tiny", "x2")),
    cox_case("offset_1_spread_1e-7", Surv(time, event) ~ offtiny + x2, "heavy", ties,
             xcols = c("offtiny", "x2")),
    cox_case("offset_100_spread_1e-5", Surv(time, event) ~ off100 + x2, "heavy", ties,
             xcols = c("off100", "x2"))
  ))
}

# strata of three columns: text with a missing value, whole numbers, logical
set.seed(7)
m <- 300
sdat <- data.frame(time = sample(1:40, m, replace = TRUE), event = rbinom(m, 1, 0.7),
                   x = round(rnorm(m), 3),
                   a = sample(c("B", "a", "10", "9", NA), m, replace = TRUE, prob = c(3, 3, 3, 3, 1)),
                   b = sample(c(10L, 2L, 1L), m, replace = TRUE),
                   c = sample(c(TRUE, FALSE), m, replace = TRUE))
sfit <- coxph(Surv(time, event) ~ x + strata(a, b, c), data = sdat)
complete <- sdat[!is.na(sdat$a), ]
# the package numbers text levels in C-locale order; R's factor() sorts by the
# collation locale (ICU's, not byte order, under C.UTF-8), so ask for the C locale
invisible(Sys.setlocale("LC_COLLATE", "C"))
strata_case <- list(data = sdat, coef = unname(coef(sfit)), loglik = unname(sfit$loglik),
                    var = unname(sfit$var), n = sfit$n,
                    # each complete row's stratum, numbered in R's order of the levels
                    locale = Sys.getlocale("LC_COLLATE"),
                    stratum = as.integer(with(complete, strata(a, b, c))))

# Harrell's C (reverse = TRUE, timewt = "n") at the edges
conc <- function(name, time, event, x, ymax = NULL) {
  r <- tryCatch({
    f <- concordance(Surv(time, event) ~ x, reverse = TRUE, timewt = "n", ymax = ymax)
    list(estimate = unname(f$concordance), count = unname(f$count[1:3]))
  }, error = function(e) list(estimate = NA, error = conditionMessage(e)))
  c(list(name = name, time = time, event = event, x = x, ymax = ymax), r)
}
set.seed(11)
tt <- sample(1:8, 60, replace = TRUE)
ee <- rbinom(60, 1, 0.6)
xx <- sample(c(-1, 0, 0.5, 2), 60, replace = TRUE)
conc_cases <- list(
  conc("ties_everywhere", tt, ee, xx),
  conc("ymax_at_an_event_time", tt, ee, xx, ymax = 4),
  conc("ymax_below_every_time", tt, ee, xx, ymax = 0.5),
  conc("predictor_constant", tt, ee, rep(3, 60)),
  conc("all_censored", tt, rep(0, 60), xx),
  conc("one_subject", 5, 1, 2),
  conc("two_tied_times", c(5, 5), c(1, 1), c(1, 2)),
  conc("two_event_then_censored_same_time", c(5, 5), c(1, 0), c(1, 2)),
  conc("two_ordered", c(3, 5), c(1, 0), c(1, 2))
)

# aeqSurv's time fix
fixes <- list(
  list(time = c(67108863, 67108862, 1, 0), event = c(1, 1, 0, 1)),
  list(time = c(67108864, 67108865, 3), event = c(1, 1, 1)),
  list(time = c(67108864, 67108865), event = c(1, 1)),      # 1 / 2^26.5 <= tol: tied
  list(time = c(1e8, 1e8 + 1, 5), event = c(1, 0, 1)),
  list(time = c(1e8, 1e8 + 1), event = c(1, 0)),
  list(time = c(3.0000000000001, 3, 5, 2), event = c(1, 0, 1, 1)),
  list(time = c(2.5, 3, 4, 4 + 1e-9), event = c(1, 1, 0, 1))
)
fixes <- lapply(fixes, function(f) c(f, list(fixed = unname(aeqSurv(Surv(f$time, f$event))[, 1]))))

# quantile.survfit with missing points in the confidence curves
set.seed(3)
qt <- c(sample(1:30, 25, replace = TRUE), 31)
qe <- c(rbinom(25, 1, 0.7), 1)          # the last time an event: S = 0 there
quants <- lapply(c("log", "log-log", "plain"), function(ct) {
  f <- survfit(Surv(qt, qe) ~ 1, conf.type = ct)
  q <- quantile(f, probs = c(0.1, 0.25, 0.5, 0.75, 0.9, 1))
  list(conf_type = ct, surv = f$surv, lower = f$lower, upper = f$upper,
       quantile = unname(q$quantile), lower_q = unname(q$lower), upper_q = unname(q$upper))
})

# quantile.survfit on made-up curves: flats at exactly a probability, limits that rise
# again, and missing points in the middle, at the end, and from a point on
set.seed(5)
made_up <- lapply(1:60, function(i) {
  k <- sample(3:12, 1)
  time <- sort(sample(1:60, k))
  surv <- cumprod(sample(c(1, 0.9, 0.8, 0.75, 2 / 3, 0.5), k, replace = TRUE))
  if (i %% 5 == 0) surv[k] <- 0
  lower <- pmax(0, surv - runif(k, 0, 0.2))
  upper <- pmin(1, surv + runif(k, 0, 0.2))
  if (i %% 3 == 0) upper <- pmin(1, upper + c(0, diff(runif(k, 0, 0.3))))   # rises again
  miss <- sample(c("middle", "end", "tail", "none"), 1)
  if (miss == "middle") lower[sample(k, 1)] <- NA
  if (miss == "end") { lower[k] <- NA; upper[k] <- NA }
  if (miss == "tail") upper[sample(k, 1):k] <- NA
  if (i %% 4 == 0) lower[k] <- lower[max(1, k - 1)]      # a flat reaching the end
  fit <- structure(list(time = time, surv = surv, lower = lower, upper = upper,
                        n = 10, conf.type = "log"), class = "survfit")
  q <- quantile(fit, probs = c(0, 0.1, 0.25, 0.5, 0.75, 0.9, 1))
  list(time = time, surv = surv, lower = lower, upper = upper,
       quantile = unname(q$quantile), lower_q = unname(q$lower), upper_q = unname(q$upper))
})

out <- list(
  r_version = R.version.string, survival_version = as.character(packageVersion("survival")),
  data = list(heavy = heavy, same = same, single = single), cox = cox, strata = strata_case,
  concordance = conc_cases, timefix = fixes,
  quantiles = list(time = qt, event = qe, probs = c(0.1, 0.25, 0.5, 0.75, 0.9, 1),
                   curves = quants, made_up = made_up)
)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, null = "null", na = "null",
                  dataframe = "columns", pretty = FALSE),
           file.path(here, "speed_edges_reference.json"))
