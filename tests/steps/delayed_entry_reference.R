# Reference values for tests/steps/test_delayed_entry_steps.py: the workflow's survival
# steps (Kaplan-Meier by group, numbers at risk, reverse-KM follow-up, Cox models of the
# bundled configuration, Harrell's C of a fitted model) on a cohort counted from
# diagnosis with entry into the risk set at the scan (left truncation), with case
# weights, and with both, as R computes them on Surv(entry, time, event) / weights =.
# The cohort is simulated here (seeded) and written beside the JSON; it has tied times,
# entries equal to other patients' event times, and patients of one group who enter
# after that group's last event.
#   Rscript tests/steps/delayed_entry_reference.R   (from the repository root)
library(survival)
library(jsonlite)
set.seed(20261207)
n <- 240
grp <- sample(c("P1", "P2-4", "P5"), n, replace = TRUE, prob = c(.45, .4, .15))
centre <- sample(c("A", "B", "C"), n, replace = TRUE)
grade <- ifelse(grp == "P5", sample(c("G2", "G3"), n, TRUE), sample(c("G1", "G2", "G3"), n, TRUE,
                                                                   prob = c(.4, .45, .15)))
ki67 <- round(exp(rnorm(n, log(ifelse(grade == "G1", 1.5, ifelse(grade == "G2", 8, 30))), .5)), 1)
age <- round(rnorm(n, 62, 10))
extrahepatic <- rbinom(n, 1, .4)
lp <- c(P1 = 0, "P2-4" = .7, P5 = 1.8)[grp] + .3 * (grade == "G2") + .8 * (grade == "G3") +
  .02 * (age - 62) + .3 * extrahepatic
latent <- rexp(n, exp(lp) / 80)
entry <- round(runif(n, 0, 36))                      # whole months from diagnosis to scan
time <- entry + latent
cens <- entry + runif(n, 6, 120)
os_time <- round(pmin(time, cens))                   # whole months: many ties
os_event <- as.integer(time <= cens)
keep <- os_time > entry                              # R drops entry >= exit; the cohort step refuses it
d <- data.frame(netpet_group = grp, centre, grade, ki67, age, extrahepatic,
                os_time, os_event, entry_time = entry)[keep, ]
# two P5 patients who enter after the last P5 event
last_p5 <- max(d$os_time[d$netpet_group == "P5" & d$os_event == 1])
extra <- d[d$netpet_group == "P5", ][1:2, ]
extra$entry_time <- last_p5 + c(1, 3)
extra$os_time <- last_p5 + c(10, 20)
extra$os_event <- 0L
d <- rbind(d, extra)
d$weight <- round(runif(nrow(d), .4, 2.6), 3)
rownames(d) <- NULL
write.csv(d, "tests/steps/delayed_entry_cohort.csv", row.names = FALSE)
`%||%` <- function(a, b) if (is.null(a)) b else a

times <- c(12, 24, 36, 60)
km <- function(f) {
  fit <- survfit(f, data = d, weights = .w, conf.type = "log")
  s <- summary(fit, times = times, extend = TRUE)
  q <- quantile(fit, 0.5)
  list(strata = sub("netpet_group=", "", as.character(s$strata)), time = s$time,
       surv = s$surv, std_err = s$std.err, lower = s$lower, upper = s$upper,
       n_risk = s$n.risk,
       median = unname(q$quantile), median_lower = unname(q$lower),
       median_upper = unname(q$upper))
}
follow <- function(f) {
  q <- quantile(survfit(f, data = d, weights = .w, conf.type = "log"), 0.5)
  list(median = unname(q$quantile), lower = unname(q$lower), upper = unname(q$upper))
}
models <- list(
  primary = ~ netpet_group + grade + I(age / 10) + extrahepatic + strata(centre),
  ki67 = ~ netpet_group + log2(pmax(ki67, 1)) + I(age / 10) + extrahepatic + strata(centre),
  grade_ki67 = ~ grade + log2(pmax(ki67, 1)))   # the config's log2 with its floor of 1
cox <- function(lhs) {
  lapply(models, function(rhs) {
    f <- update(rhs, paste(lhs, "~ ."))
      fit <- coxph(f, data = d, weights = .w, ties = "efron")
    cc <- concordance(fit)
    out <- list(coef = unname(coef(fit)), se = unname(sqrt(diag(fit$naive.var %||% fit$var))),
                loglik = fit$loglik, c = unname(cc$concordance), c_se = sqrt(unname(cc$var)))
    if (!is.null(fit$naive.var)) out$robust_se <- unname(sqrt(diag(fit$var)))
    out
  })
}
# Log-rank tests (survdiff takes neither entry nor weights): the Cox score test at
# beta = 0 on the same risk sets, exact ties without weights, Breslow with them
# (R refuses exact ties with weights). R's exact method on (start, stop] data enumerates
# every subset of a tied death set and does not finish on these ties; the exact partial
# likelihood is a product over death times of the probability of the deaths given the
# risk set, so the same test is coxph(ties = "exact") on one row per patient at risk at
# each death time, stratified by death time (R's fast right-censored exact method), as
# tests/survival/entry_weights_km_reference.R checks against the direct call.
riskset_rows <- function(strata_col) {
  s <- if (is.null(strata_col)) rep("all", nrow(d)) else d[[strata_col]]
  out <- list()
  for (ss in unique(s)) {
    ds <- d[s == ss, ]
    for (t in sort(unique(ds$os_time[ds$os_event == 1]))) {
      r <- ds[ds$entry_time < t & ds$os_time >= t, ]
      r$dead <- as.integer(r$os_time == t & r$os_event == 1)
      r$set <- paste(ss, t)
      r$one <- 1
      out[[length(out) + 1]] <- r
    }
  }
  do.call(rbind, out)
}
logrank <- function(lhs, weighted, entered) {
  trend <- "as.numeric(factor(netpet_group, levels = c('P1', 'P2-4', 'P5')))"
  score <- function(rhs, strata_col = NULL) {
    if (entered && !weighted) {
      rows <- riskset_rows(strata_col)
      fit <- coxph(as.formula(paste("Surv(one, dead) ~", rhs, "+ strata(set)")),
                   data = rows, ties = "exact")
    } else {
      f <- paste(lhs, "~", rhs, if (is.null(strata_col)) "" else "+ strata(centre)")
      fit <- coxph(as.formula(f), data = d, weights = .w, ties = "breslow")
    }
    unname(fit$score)
  }
  list(overall = score("netpet_group"), stratified = score("netpet_group", "centre"),
       trend = score(trend))
}

# each scenario's weights in the column .w of d (weights of 1: as no weights), where
# concordance() finds them again when it rebuilds the model frame
scenario <- function(weighted, entered) {
  d$.w <<- if (weighted) d$weight else 1
  lhs <- if (entered) "Surv(entry_time, os_time, %s)" else "Surv(os_time, %s)"
  list(km = km(as.formula(paste(sprintf(lhs, "os_event"), "~ netpet_group"))),
       follow_up = follow(as.formula(paste(sprintf(lhs, "1 - os_event"), "~ 1"))),
       cox = cox(sprintf(lhs, "os_event")),
       logrank = logrank(sprintf(lhs, "os_event"), weighted, entered))
}
out <- list(
  entry = scenario(weighted = FALSE, entered = TRUE),
  weights = scenario(weighted = TRUE, entered = FALSE),
  both = scenario(weighted = TRUE, entered = TRUE),
  r_version = paste(R.version$major, R.version$minor, sep = "."),
  survival_version = as.character(packageVersion("survival")))
write_json(out, "tests/steps/delayed_entry_reference.json", digits = NA, auto_unbox = TRUE,
           na = "null", pretty = TRUE)
