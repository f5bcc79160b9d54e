# Reference values for tests/steps/test_follow_up.py: median follow-up by the reverse
# Kaplan-Meier method on the progression clock, with death before progression counted
# as an event (only patients alive and progression-free are censored), against the
# same clock with deaths counted as censorings.
#   Rscript tests/steps/follow_up_reference.R   (from the repository root)
library(survival)
library(jsonlite)
# status: 0 = censored alive and progression-free, 1 = progressed, 2 = died first
d <- data.frame(
  time   = c(2, 3, 3, 5, 6, 7, 8, 9, 11, 12, 14, 15, 17, 20, 22, 24),
  status = c(1, 2, 0, 1, 2, 0, 1, 2, 0, 2, 1, 0, 2, 0, 1, 0))
q_death_event <- quantile(survfit(Surv(time, status == 0) ~ 1, data = d), 0.5)
q_death_censor <- quantile(survfit(Surv(time, status != 1) ~ 1, data = d), 0.5)
out <- list(
  data = d,
  death_as_event = list(median = unname(q_death_event$quantile),
                        lower = unname(q_death_event$lower),
                        upper = unname(q_death_event$upper),
                        n_censored = sum(d$status == 0)),
  death_as_censoring = list(median = unname(q_death_censor$quantile),
                            lower = unname(q_death_censor$lower),
                            upper = unname(q_death_censor$upper)),
  r_version = paste(R.version$major, R.version$minor, sep = "."),
  survival_version = as.character(packageVersion("survival")))
write_json(out, "tests/steps/follow_up_reference.json", digits = NA, auto_unbox = TRUE,
           na = "null", pretty = TRUE)
