# Reference values for tests/steps/test_competing_entry_steps.py: rule competing_risks on
# a cohort counted from diagnosis with entry into the risk set at the scan (left
# truncation), with case weights, and with both, as R survival computes them:
# survfit(Surv(entry, time, factor(status)) ~ group, id =, weights =) (Aalen-Johansen
# cumulative incidence of progression and of death without progression, their SEs,
# CIs and numbers at risk by summary.survfit), the naive 1 - survfit(Surv(entry, time,
# status == 1) ~ group, weights =), and cause-specific coxph(Surv(entry, time,
# status == k) ~ ..., weights =). Gray's test and the Fine-Gray model have no R
# counterpart for such data (cmprsk takes neither; finegray takes no delayed entry), so
# nothing is computed for them here.
# The cohort is tests/steps/delayed_entry_cohort.csv (written by delayed_entry_reference.R:
# whole-month ties, entries equal to other patients' exits, two P5 patients entering
# after the last P5 death) with a progression time simulated here (seeded); written
# beside the JSON as competing_entry_cohort.csv.
#   Rscript tests/steps/competing_entry_reference.R   (from the repository root)
library(survival)
library(jsonlite)
set.seed(20261208)
d <- read.csv("tests/steps/delayed_entry_cohort.csv")
n <- nrow(d)
lp <- c(P1 = 0, "P2-4" = .5, P5 = .9)[d$netpet_group] + .4 * (d$grade == "G3")
prog <- ceiling(d$entry_time + rexp(n, exp(lp) / 60))   # whole months, after entry
progressed <- prog <= d$os_time                          # a progression at death counts
# the two P5 patients who enter after the last P5 death enter after the last P5 event
# of either kind: they never progress, and no P5 progression comes after their entry
late <- d$netpet_group == "P5" & d$entry_time > max(d$os_time[d$netpet_group == "P5" &
                                                                 d$os_event == 1])
progressed[late] <- FALSE
p5_last <- min(d$entry_time[late]) - 1
progressed[d$netpet_group == "P5" & prog > p5_last] <- FALSE
d$cr_time <- ifelse(progressed, prog, d$os_time)
d$cr_status <- ifelse(progressed, 1L, ifelse(d$os_event == 1, 2L, 0L))
stopifnot(all(d$cr_time > d$entry_time))
d$id <- seq_len(n)
write.csv(d[, setdiff(names(d), "id")], "tests/steps/competing_entry_cohort.csv",
          row.names = FALSE)

horizons <- c(12, 24, 36, 60)
risk_times <- c(0, 12, 24, 36, 48, 60)
groups <- function(s) sub("netpet_group=", "", as.character(s))

scenario <- function(weighted, entered) {
  d$.w <<- if (weighted) d$weight else 1
  lhs <- if (entered) "Surv(entry_time, cr_time, %s)" else "Surv(cr_time, %s)"
  f <- as.formula(paste(sprintf(lhs, "factor(cr_status, 0:2)"), "~ netpet_group"))
  fit <- survfit(f, data = d, id = id, weights = .w, conf.type = "log")
  s <- summary(fit, times = horizons)            # past a group's data: no row, as R
  r <- summary(fit, times = risk_times, extend = TRUE)
  naive <- survfit(as.formula(paste(sprintf(lhs, "cr_status == 1"), "~ netpet_group")),
                   data = d, weights = .w, conf.type = "log")
  sn <- summary(naive, times = horizons)
  cs <- lapply(c(progressed = 1, died = 2), function(k) {
    fk <- as.formula(paste(sprintf(lhs, paste("cr_status ==", k)),
                           "~ netpet_group + grade + I(age / 10) + extrahepatic + strata(centre)"))
    m <- coxph(fk, data = d, weights = .w, ties = "efron")
    out <- list(coef = unname(coef(m)), se = unname(sqrt(diag(m$naive.var %||% m$var))),
                n = m$n, events = m$nevent)
    if (!is.null(m$naive.var)) out$robust_se <- unname(sqrt(diag(m$var)))
    out
  })
  list(
    horizons = list(group = groups(s$strata), time = s$time, states = s$states,
                    pstate = s$pstate, std_err = s$std.err, lower = s$lower,
                    upper = s$upper),
    risk = list(group = groups(r$strata), time = r$time, n_risk = r$n.risk[, 1]),
    naive = list(group = groups(sn$strata), time = sn$time, one_minus_km = 1 - sn$surv,
                 lower = 1 - sn$upper, upper = 1 - sn$lower),
    cause_specific = cs)
}
`%||%` <- function(a, b) if (is.null(a)) b else a
out <- list(
  entry = scenario(weighted = FALSE, entered = TRUE),
  weights = scenario(weighted = TRUE, entered = FALSE),
  both = scenario(weighted = TRUE, entered = TRUE),
  r_version = paste(R.version$major, R.version$minor, sep = "."),
  survival_version = as.character(packageVersion("survival")))
write_json(out, "tests/steps/competing_entry_reference.json", digits = NA, auto_unbox = TRUE,
           na = "null", pretty = TRUE)
