# Reference values for competing risks (netpet_stats.survival.competing_risks).
#
# Regenerate (from the repository root):
#     Rscript tests/survival/competing_risks_reference.R
# Needs: r-base-core, r-cran-survival, r-cran-cmprsk, r-cran-jsonlite (Debian).
# Output: tests/survival/competing_risks_reference.json and tests/data/mgus2.csv.
# CI does not need R: both are committed.
#
# Data: survival::mgus2 with the competing-risks endpoint of survival's
# vignette "Multi-state models and competing risks" (Therneau, Crowson &
# Atkinson): progression to plasma cell malignancy (pcm) first, else death.

suppressPackageStartupMessages({
  library(survival)
  library(cmprsk)
  library(jsonlite)
})

out_dir <- "tests/survival"
data_dir <- "tests/data"

m <- survival::mgus2
m$etime <- with(m, ifelse(pstat == 0, futime, ptime))
m$event <- with(m, ifelse(pstat == 0, 2 * death, 1))       # 0 censor, 1 pcm, 2 death
m$centre <- paste0("C", (m$id %% 3) + 1)                   # a made-up centre for strata
m$agegrp <- cut(m$age, c(0, 60, 75, Inf), labels = c("<60", "60-75", ">75"))
write.csv(data.frame(id = m$id, etime = m$etime, event = m$event, sex = as.character(m$sex),
                     age = m$age, centre = m$centre, agegrp = as.character(m$agegrp)),
          file.path(data_dir, "mgus2.csv"), row.names = FALSE)
m$fevent <- factor(m$event, 0:2, labels = c("censor", "pcm", "death"))

# Aalen-Johansen: survfit on a multi-state (factor) status; infinitesimal-jackknife SE.
aj_case <- function(fit, call) {
  s <- summary(fit, censored = TRUE)
  strata <- if (is.null(s$strata)) rep("all", length(s$time)) else as.character(s$strata)
  list(call = call, states = fit$states, time = s$time, strata = strata,
       n_risk = s$n.risk[, 1], pstate = s$pstate, std_err = s$std.err,
       lower = s$lower, upper = s$upper)
}
aj <- list(
  by_sex = aj_case(survfit(Surv(etime, fevent) ~ sex, data = m),
                   "survfit(Surv(etime, event) ~ sex, data = mgus2)"),
  all = aj_case(survfit(Surv(etime, fevent) ~ 1, data = m),
                "survfit(Surv(etime, event) ~ 1, data = mgus2)"),
  loglog = aj_case(survfit(Surv(etime, fevent) ~ agegrp, data = m, conf.type = "log-log"),
                   "survfit(Surv(etime, event) ~ agegrp, data = mgus2, conf.type = 'log-log')"))
# Times 1e-12 apart in relative terms are tied by aeqSurv (timefix).
mp <- m
mp$etime <- mp$etime * (1 + ifelse(mp$id %% 2 == 0, 1e-12, 0))
aj$timefix <- aj_case(survfit(Surv(etime, fevent) ~ sex, data = mp),
                      "survfit(Surv(etime * (1 + 1e-12 for even id), event) ~ sex, data = mgus2)")
aj$timefix$perturbed_time <- mp$etime
# Incidence reaching 1: in group "a" every patient not censored progresses, the last
# one at the last time; its SE is rounding noise in R (2e-17), the lower limit 1.
ida <- 1:20
idb <- 21:36
near <- data.frame(
  time = c(ifelse(ida == 20, 20, (ida * 3) %% 17 + 1), (idb * 5) %% 13 + 1),
  cause = c(ifelse(ida %% 5 == 0 & ida != 20, 0, 1), idb %% 3),
  group = rep(c("a", "b"), c(length(ida), length(idb))))
aj$near_one <- aj_case(survfit(Surv(time, factor(cause, 0:2)) ~ group, data = near),
                       "survfit(Surv(time, factor(cause, 0:2)) ~ group, data = near)")
aj$near_one$data <- near

# Gray's test (cmprsk::cuminc), per cause; stratified; three groups; rho = 1.
gray_case <- function(ci, call) {
  tt <- ci$Tests
  list(call = call, cause = rownames(tt), stat = unname(tt[, "stat"]),
       p = unname(tt[, "pv"]), df = unname(tt[, "df"]))
}
gray <- list(
  by_sex = gray_case(with(m, cuminc(etime, event, sex)), "cuminc(etime, event, sex)"),
  by_agegrp = gray_case(with(m, cuminc(etime, event, agegrp)), "cuminc(etime, event, agegrp)"),
  stratified = gray_case(with(m, cuminc(etime, event, agegrp, strata = centre)),
                         "cuminc(etime, event, agegrp, strata = centre)"),
  rho1 = gray_case(with(m, cuminc(etime, event, sex, rho = 1)),
                   "cuminc(etime, event, sex, rho = 1)"),
  # cuminc compares the times as given (no aeqSurv time fix): times 1e-12 apart in
  # relative terms are distinct, and the statistic differs from by_sex's
  timefix = gray_case(with(mp, cuminc(etime, event, sex)),
                      "cuminc(etime * (1 + 1e-12 for even id), event, sex)"))

# Fine-Gray by the finegray() expansion and a weighted coxph clustered on id.
fg_case <- function(etype, strata, call) {
  if (strata) {
    m$stratum <- m$centre
    fgd <- finegray(Surv(etime, fevent) ~ sex + age + id + centre + strata(stratum), data = m,
                    etype = etype)
    fit <- coxph(Surv(fgstart, fgstop, fgstatus) ~ sex + age + strata(centre),
                 weights = fgwt, cluster = id, data = fgd,
                 control = coxph.control(eps = 1e-12, toler.chol = 1e-13, iter.max = 50))
  } else {
    fgd <- finegray(Surv(etime, fevent) ~ ., data = m[, c("id", "etime", "fevent", "sex", "age")],
                    etype = etype)
    fit <- coxph(Surv(fgstart, fgstop, fgstatus) ~ sex + age, weights = fgwt, cluster = id,
                 data = fgd, control = coxph.control(eps = 1e-12, toler.chol = 1e-13, iter.max = 50))
  }
  list(call = call, coef = unname(coef(fit)), var = unname(fit$var),
       naive_var = unname(fit$naive.var), loglik = fit$loglik, n_rows = nrow(fgd),
       robust_score = unname(fit$rscore))
}
fg <- list(
  pcm = fg_case("pcm", FALSE, paste(
    "coxph(Surv(fgstart, fgstop, fgstatus) ~ sex + age, weights = fgwt, cluster = id,",
    "data = finegray(Surv(etime, event) ~ ., data = mgus2, etype = 'pcm'))")),
  death = fg_case("death", FALSE, "as pcm with etype = 'death'"),
  pcm_strata = fg_case("pcm", TRUE, paste(
    "finegray(Surv(etime, event) ~ sex + age + id + centre + strata(centre), etype = 'pcm');",
    "coxph(... ~ sex + age + strata(centre), weights = fgwt, cluster = id)")))

# Cause-specific Cox: the other cause censors.
cs <- coxph(Surv(etime, event == 1) ~ sex + age + strata(centre), data = m,
            control = coxph.control(eps = 1e-12, toler.chol = 1e-13))
cause_specific <- list(call = "coxph(Surv(etime, event == 1) ~ sex + age + strata(centre))",
                       coef = unname(coef(cs)), var = unname(vcov(cs)))

ref <- list(
  generated_by = "tests/survival/competing_risks_reference.R",
  versions = list(R = R.version.string, survival = as.character(packageVersion("survival")),
                  cmprsk = as.character(packageVersion("cmprsk"))),
  aalen_johansen = aj, gray = gray, fine_gray = fg, cause_specific = cause_specific)
writeLines(toJSON(ref, digits = NA, auto_unbox = TRUE, matrix = "rowmajor"),
           file.path(out_dir, "competing_risks_reference.json"))

# ---------------------------------------------------------------- the bundled cohort
# The workflow's competing-risks step on data/synthetic/cohort.csv (P0 excluded;
# groups P1 / P2-4 / P5): progression first, death first (TTP censored at the death
# time, the two times equal), else censored.
coh <- read.csv("data/synthetic/cohort.csv", stringsAsFactors = FALSE)
coh$group <- ifelse(coh$netpet == "P1", "P1",
             ifelse(coh$netpet %in% c("P2", "P3", "P4", "P4a", "P4b"), "P2-4",
             ifelse(coh$netpet == "P5", "P5", NA)))
coh <- coh[!is.na(coh$group), ]
coh$status <- ifelse(coh$ttp_event == 1, 1,
              ifelse(coh$os_event == 1 & abs(coh$ttp_months - coh$os_months) < 1 / 30.4375, 2, 0))
coh$fstatus <- factor(coh$status, 0:2, labels = c("censor", "progressed", "died"))
coh$grade <- factor(ifelse(coh$who_grade == "", NA, coh$who_grade), levels = c("G1", "G2", "G3"))
coh$age10 <- coh$age_at_diagnosis / 10
coh$extrahepatic <- as.integer(coh$extrahepatic_disease == "yes")
coh$group <- factor(coh$group, levels = c("P1", "P2-4", "P5"))
coh$id <- seq_len(nrow(coh))
aj_syn <- survfit(Surv(ttp_months, fstatus) ~ group, data = coh)
s24 <- summary(aj_syn, times = c(12, 24, 36))
km_naive <- summary(survfit(Surv(ttp_months, status == 1) ~ group, data = coh), times = c(12, 24, 36))
gray_syn <- with(coh, cuminc(ttp_months, status, group))$Tests
cc <- coh[!is.na(coh$grade), ]
cs_syn <- coxph(Surv(ttp_months, status == 1) ~ group + grade + age10 + extrahepatic + strata(centre),
                data = cc, control = coxph.control(eps = 1e-12, toler.chol = 1e-13))
cc$stratum <- cc$centre
fgd <- finegray(Surv(ttp_months, fstatus) ~ group + grade + age10 + extrahepatic + id +
                centre + strata(stratum), data = cc, etype = "progressed")
fg_syn <- coxph(Surv(fgstart, fgstop, fgstatus) ~ group + grade + age10 + extrahepatic +
                strata(centre), weights = fgwt, cluster = id, data = fgd,
                control = coxph.control(eps = 1e-12, toler.chol = 1e-13, iter.max = 50))
synthetic <- list(
  call = paste("survfit(Surv(ttp, status) ~ group); cuminc(ttp, status, group);",
               "coxph(Surv(ttp, status == 1) ~ group + grade + age10 + extrahepatic + strata(centre));",
               "finegray(etype = 'progressed') + coxph(weights = fgwt, cluster = id)"),
  states = as.list(table(coh$group, coh$status)),
  horizons = list(time = s24$time, strata = as.character(s24$strata), pstate = s24$pstate,
                  std_err = s24$std.err, lower = s24$lower, upper = s24$upper,
                  naive = 1 - km_naive$surv),
  gray = list(stat = unname(gray_syn[, "stat"]), p = unname(gray_syn[, "pv"])),
  cause_specific = list(coef = unname(coef(cs_syn)), se = unname(sqrt(diag(vcov(cs_syn))))),
  fine_gray = list(coef = unname(coef(fg_syn)), se = unname(sqrt(diag(fg_syn$var)))))
ref$synthetic <- synthetic
writeLines(toJSON(ref, digits = NA, auto_unbox = TRUE, matrix = "rowmajor"),
           file.path(out_dir, "competing_risks_reference.json"))
