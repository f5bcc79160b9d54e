# Reference values for delayed entry and case weights in Kaplan-Meier, the log-rank
# score tests, Harrell's and Uno's C and the Aalen-Johansen estimate
# (tests/survival/test_entry_weights_km.py).
#
# Regenerate (from the repository root):
#     Rscript tests/survival/entry_weights_km_reference.R
# Needs: r-base-core, r-cran-survival, r-cran-jsonlite (Debian).
# Output: tests/survival/entry_weights_km_reference.json (the data are in it).
# CI does not need R: the output is committed.
#
# Data: a simulated cohort of 240 subjects in three groups and two strata, times
# rounded to 0.5 (ties), entry times with about half the subjects entering late,
# among them subjects entering after the last event of their group and subjects
# whose entry equals another subject's exit; non-integer weights; a cause of the
# event (1 or 2) for the competing-risks estimate. And the 12-subject example of
# the test file, small enough to check by hand.

suppressPackageStartupMessages({
  library(survival)
  library(jsonlite)
})

out_dir <- "tests/survival"
set.seed(20261127)
n <- 240
group <- rep(c("a", "b", "c"), length.out = n)
stratum <- rep(c("s1", "s2"), each = n / 2)
rate <- c(a = 0.05, b = 0.08, c = 0.12)[group]
exit_latent <- round(rexp(n, rate) * 2) / 2 + 0.5
censor <- round(runif(n, 2, 40) * 2) / 2
time <- pmin(exit_latent, censor)
event <- as.integer(exit_latent <= censor)
late <- runif(n) < 0.5
entry <- ifelse(late, round(runif(n, 0, 1) * time * 2) / 2, 0)
# entry equal to another subject's exit
entry[c(5, 17, 29)] <- pmin(time[c(6, 18, 30)], time[c(5, 17, 29)] - 0.5)
# subjects entering after the last event of group "c"
last_c <- max(time[group == "c" & event == 1])
extra <- which(group == "c")[1:3]
entry[extra] <- last_c + 1
time[extra] <- last_c + c(2, 3.5, 5)
event[extra] <- c(1, 0, 1)
entry <- pmax(entry, 0)
bad <- entry >= time
entry[bad] <- 0
weight <- round(runif(n, 0.3, 2.5), 3)
cause <- ifelse(event == 1, 1 + (runif(n) < 0.35), 0)
x <- round(rnorm(n) + (group == "c") * 0.7 + (group == "b") * 0.3, 1)
d <- data.frame(entry, time, event, group, stratum, weight, cause, x, id = seq_len(n))

small <- data.frame(
  entry = c(0, 0, 1, 2, 0, 3, 5, 0.5, 2, 6, 4, 4),
  time = c(2, 3, 4, 4, 5, 6, 7, 8, 9, 10, 6, 4.5),
  event = c(1, 0, 1, 1, 0, 1, 0, 1, 0, 1, 0, 1),
  cause = c(1, 0, 2, 1, 0, 1, 0, 2, 0, 1, 0, 2),
  weight = c(1.5, 0.7, 1, 2.2, 1, 0.3, 1.1, 1, 0.9, 1.4, 2, 0.5),
  group = rep(c("a", "b", "c"), 4),
  x = c(3, 1, 2, 2, 5, 1, 4, 2, 3, 0, 1, 2), id = 1:12)
# A subject whose entry equals its exit (Surv() makes the row NA: it is left out).
zero <- rbind(small, data.frame(entry = 4, time = 4, event = 1, cause = 1, weight = 3,
                                group = "a", x = 9, id = 13))
# A whole group entering after the last death: never at risk at a death time (R drops
# its coefficient, NA; the score test has 1 df).
late <- data.frame(entry = c(0, 0, 0, 0, 0, 0, 10, 11), time = c(1, 2, 3, 4, 5, 6, 12, 13),
                   event = c(1, 1, 0, 1, 1, 0, 0, 0), group = c(rep(c("a", "b"), 3), "c", "c"),
                   weight = c(1.5, 0.5, 1, 2, 1, 1, 1, 1))
# The risk set empties and fills again: two early deaths, then two late entrants.
gap <- data.frame(entry = c(0, 0, 5, 6), time = c(1, 2, 7, 9), event = c(1, 1, 1, 0))

km_case <- function(fit, call, times = NULL) {
  strata <- if (is.null(fit$strata)) rep("all", length(fit$time)) else
    rep(names(fit$strata), fit$strata)
  out <- list(call = call, time = fit$time, strata = sub(".*=", "", strata),
              n_risk = fit$n.risk, n_event = fit$n.event,
              n_censor = fit$n.censor, surv = fit$surv, std_err = fit$std.err,
              logse = fit$logse, lower = fit$lower, upper = fit$upper)
  if (!is.null(times)) {
    s <- summary(fit, times = times, extend = TRUE)
    out$at <- list(times = times, time = s$time, n_risk = s$n.risk, surv = s$surv,
                   std_err = s$std.err, lower = s$lower, upper = s$upper,
                   strata = if (is.null(s$strata)) rep("all", length(s$time)) else
                     sub(".*=", "", as.character(s$strata)))
  }
  out
}
quant <- function(fit) {
  q <- quantile(fit, 0.5)
  list(quantile = unname(q$quantile), lower = unname(q$lower), upper = unname(q$upper))
}

km <- list(
  small_entry = km_case(survfit(Surv(entry, time, event) ~ 1, data = small),
                        "survfit(Surv(entry, time, event) ~ 1, data = small)", c(0, 1, 3, 4.2, 8)),
  small_entry_w = km_case(survfit(Surv(entry, time, event) ~ 1, data = small, weights = weight),
                          "survfit(Surv(entry, time, event) ~ 1, data = small, weights = weight)",
                          c(1, 3, 8, 10)),
  small_w = km_case(survfit(Surv(time, event) ~ 1, data = small, weights = weight),
                    "survfit(Surv(time, event) ~ 1, data = small, weights = weight)", c(3, 8)),
  small_intw = km_case(survfit(Surv(time, event) ~ 1, data = small, weights = round(2 * weight)),
                       "survfit(Surv(time, event) ~ 1, data = small, weights = round(2 * weight))"),
  zero_length = km_case(suppressWarnings(survfit(Surv(entry, time, event) ~ 1, data = zero,
                                                  weights = weight)),
                        "survfit(Surv(entry, time, event) ~ 1, data = zero, weights = weight)"),
  gap = km_case(survfit(Surv(entry, time, event) ~ 1, data = gap),
                "survfit(Surv(entry, time, event) ~ 1, data = gap)", c(0, 1, 3, 5.5, 6.5, 8, 9)),
  cohort_entry = km_case(survfit(Surv(entry, time, event) ~ group, data = d),
                         "survfit(Surv(entry, time, event) ~ group, data = d)", c(0, 5, 10, 20)),
  cohort_entry_w = km_case(survfit(Surv(entry, time, event) ~ group, data = d, weights = weight),
                           "survfit(Surv(entry, time, event) ~ group, data = d, weights = weight)",
                           c(0, 5, 10, 20)),
  cohort_w = km_case(survfit(Surv(time, event) ~ group, data = d, weights = weight),
                     "survfit(Surv(time, event) ~ group, data = d, weights = weight)", c(5, 10)),
  cohort_reverse = km_case(survfit(Surv(entry, time, 1 - event) ~ 1, data = d),
                           "survfit(Surv(entry, time, 1 - event) ~ 1, data = d)"))
km$cohort_entry$median <- quant(survfit(Surv(entry, time, event) ~ group, data = d))
km$cohort_entry_w$median <- quant(survfit(Surv(entry, time, event) ~ group, data = d,
                                          weights = weight))
km$cohort_reverse$median <- quant(survfit(Surv(entry, time, 1 - event) ~ 1, data = d))

# Log-rank with delayed entry / weights: survdiff takes neither, so the Cox score test
# at beta = 0 (summary(fit)$sctest, fit$score), exact ties without weights, Breslow with
# them. R's exact method on (start, stop] data (agexact) enumerates the subsets of each
# tied death set and takes hours on this cohort's ties; the exact partial likelihood is a
# product over death times of the conditional probability of the deaths given the risk
# set, so the same score test is coxph(ties = "exact") on one row per subject at risk
# at each death time, stratified by death time (right-censored: R's fast coxexact).
# Both forms are computed, and compared, on the small example and on a cohort subset
# with few ties.
sc <- function(fit) unname(fit$score)
riskset_data <- function(data, strat = NULL) {
  s <- if (is.null(strat)) rep("all", nrow(data)) else data[[strat]]
  out <- list()
  for (ss in unique(s)) {
    ds <- data[s == ss, ]
    for (t in sort(unique(ds$time[ds$event == 1]))) {
      r <- ds[ds$entry < t & ds$time >= t, ]
      r$dead <- as.integer(r$time == t & r$event == 1)
      r$set <- paste(ss, t)
      r$one <- 1
      out[[length(out) + 1]] <- r
    }
  }
  do.call(rbind, out)
}
exact_score <- function(rhs, data, strat = NULL) {
  rs <- riskset_data(data, strat)
  sc(coxph(as.formula(paste("Surv(one, dead) ~", rhs, "+ strata(set)")), data = rs,
           ties = "exact"))
}
few_ties <- head(d[!duplicated(d$time) | d$event == 0, ], 120)  # no tied deaths
check <- c(
  small = exact_score("group", small) -
    sc(coxph(Surv(entry, time, event) ~ group, data = small, ties = "exact")),
  few_ties = exact_score("group", few_ties) -
    sc(coxph(Surv(entry, time, event) ~ group, data = few_ties, ties = "exact")),
  right_censored = exact_score("group", transform(d, entry = -1)) -
    unname(survdiff(Surv(time, event) ~ group, data = d)$chisq))
stopifnot(all(abs(check) < 1e-8))
lr <- list(
  check_riskset_vs_agexact = as.list(check),
  survdiff = unname(survdiff(Surv(time, event) ~ group, data = d)$chisq),
  survdiff_strata = unname(survdiff(Surv(time, event) ~ group + strata(stratum), data = d)$chisq),
  entry = exact_score("group", d),
  entry_strata = exact_score("group", d, "stratum"),
  entry_trend = exact_score("as.numeric(factor(group))", d),
  entry_pair_ab = exact_score("group", d[d$group != "c", ]),
  entry_pair_ac = exact_score("group", d[d$group != "b", ]),
  entry_pair_bc = exact_score("group", d[d$group != "a", ]),
  weights = sc(coxph(Surv(time, event) ~ group, data = d, weights = weight,
                     ties = "breslow")),
  entry_weights = sc(coxph(Surv(entry, time, event) ~ group, data = d, weights = weight,
                           ties = "breslow")),
  entry_weights_strata = sc(coxph(Surv(entry, time, event) ~ group + strata(stratum), data = d,
                                  weights = weight, ties = "breslow")),
  entry_weights_trend = sc(coxph(Surv(entry, time, event) ~ as.numeric(factor(group)), data = d,
                                 weights = weight, ties = "breslow")),
  small_entry = sc(coxph(Surv(entry, time, event) ~ group, data = small, ties = "exact")),
  late_group = sc(coxph(Surv(entry, time, event) ~ group, data = late, ties = "exact")),
  late_group_w = sc(coxph(Surv(entry, time, event) ~ group, data = late, weights = weight,
                          ties = "breslow")),
  late_group_df = sum(!is.na(coef(coxph(Surv(entry, time, event) ~ group, data = late,
                                        ties = "exact")))),
  zero_length_w = sc(suppressWarnings(coxph(Surv(entry, time, event) ~ group, data = zero,
                                            weights = weight, ties = "breslow"))),
  small_entry_w = sc(coxph(Surv(entry, time, event) ~ group, data = small, weights = weight,
                           ties = "breslow")))

# Expected events per group (survdiff's E) with entry / weights: from the null Cox
# model's martingale residuals, O - E = sum(w * residual) per group (Breslow's
# cumulative hazard at beta = 0: survdiff's d/n, which Efron's residuals are not).
expected <- function(w) {
  f <- coxph(Surv(entry, time, event) ~ 1, data = d, weights = w, ties = "breslow")
  m <- residuals(f, type = "martingale")
  as.list(tapply(w * (d$event - m), d$group, sum))
}
lr$expected_entry <- expected(rep(1, nrow(d)))
lr$expected_entry_w <- expected(d$weight)

# Concordance on counting-process data: timewt = "n" only (R refuses n/G2 there).
cc <- function(fit) list(concordance = unname(fit$concordance), var = unname(fit$var),
                         count = unname(colSums(rbind(fit$count))[1:3]))
conc <- list(
  small_entry = cc(concordance(Surv(entry, time, event) ~ x, data = small, reverse = TRUE)),
  small_entry_w = cc(concordance(Surv(entry, time, event) ~ x, data = small, weights = weight,
                                 reverse = TRUE)),
  small_w = cc(concordance(Surv(time, event) ~ x, data = small, weights = weight, reverse = TRUE)),
  small_w_uno = cc(concordance(Surv(time, event) ~ x, data = small, weights = weight,
                               reverse = TRUE, timewt = "n/G2")),
  entry = cc(concordance(Surv(entry, time, event) ~ x, data = d, reverse = TRUE)),
  entry_w = cc(concordance(Surv(entry, time, event) ~ x, data = d, weights = weight,
                           reverse = TRUE)),
  entry_strata = cc(concordance(Surv(entry, time, event) ~ x + strata(stratum), data = d,
                                reverse = TRUE)),
  entry_w_ymax = cc(concordance(Surv(entry, time, event) ~ x, data = d, weights = weight,
                                reverse = TRUE, ymax = 15)),
  entry_w_cluster = cc(concordance(Surv(entry, time, event) ~ x, data = d, weights = weight,
                                   reverse = TRUE, cluster = group)),
  w = cc(concordance(Surv(time, event) ~ x, data = d, weights = weight, reverse = TRUE)),
  w_uno = cc(concordance(Surv(time, event) ~ x, data = d, weights = weight, reverse = TRUE,
                         timewt = "n/G2")))
conc$uno_entry_refused <- tryCatch({
  concordance(Surv(entry, time, event) ~ x, data = d, timewt = "n/G2"); "no error"
}, error = function(e) conditionMessage(e))

# Aalen-Johansen with entry and weights (R needs an id for start-stop data).
aj_case <- function(fit, call) {
  s <- summary(fit, censored = TRUE)
  strata <- if (is.null(s$strata)) rep("all", length(s$time)) else
    sub(".*=", "", as.character(s$strata))
  list(call = call, states = fit$states, time = s$time, strata = strata,
       n_risk = s$n.risk[, 1], pstate = s$pstate, std_err = s$std.err,
       lower = s$lower, upper = s$upper)
}
d$fcause <- factor(d$cause, 0:2)
small$fcause <- factor(small$cause, 0:2)
aj <- list(
  small_entry = aj_case(survfit(Surv(entry, time, fcause) ~ 1, data = small, id = id),
                        "survfit(Surv(entry, time, factor(cause)) ~ 1, data = small, id = id)"),
  small_entry_w = aj_case(survfit(Surv(entry, time, fcause) ~ 1, data = small, id = id,
                                  weights = weight), "... weights = weight"),
  small_w = aj_case(survfit(Surv(time, fcause) ~ 1, data = small, weights = weight),
                    "survfit(Surv(time, factor(cause)) ~ 1, data = small, weights = weight)"),
  cohort_entry = aj_case(survfit(Surv(entry, time, fcause) ~ group, data = d, id = id),
                         "survfit(Surv(entry, time, factor(cause)) ~ group, data = d, id = id)"),
  cohort_entry_w = aj_case(survfit(Surv(entry, time, fcause) ~ group, data = d, id = id,
                                   weights = weight),
                           "survfit(Surv(entry, time, factor(cause)) ~ group, data = d, id = id, weights = weight)"))

ref <- list(
  generated_by = "tests/survival/entry_weights_km_reference.R",
  r_version = R.version.string,
  survival_version = as.character(packageVersion("survival")),
  data = as.list(d[, c("entry", "time", "event", "group", "stratum", "weight", "cause", "x")]),
  small = as.list(small[, c("entry", "time", "event", "cause", "weight", "group", "x")]),
  gap = as.list(gap),
  late = as.list(late),
  zero = as.list(zero[, c("entry", "time", "event", "cause", "weight", "group", "x")]),
  km = km, logrank = lr, concordance = conc, aalen_johansen = aj)
writeLines(toJSON(ref, digits = NA, na = "null", auto_unbox = TRUE, pretty = FALSE),
           file.path(out_dir, "entry_weights_km_reference.json"))
cat("wrote", file.path(out_dir, "entry_weights_km_reference.json"), "\n")
