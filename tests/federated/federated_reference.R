# Reference values for the federated (multicentre, no pooling of rows) analysis.
#
# Regenerate (from the repository root):
#     Rscript tests/federated/federated_reference.R
# Needs: r-base-core, r-cran-survival, r-cran-jsonlite (Debian packages).
# Output: tests/federated/federated_reference.json and the data it was computed on,
# tests/data/colon_death.csv and tests/data/lung_inst.csv. CI does not need R.
#
# The federated fit must equal R's fit on the pooled rows: the truth here is plain
# coxph / survdiff / concordance on all patients, stratified by centre.

suppressPackageStartupMessages({
  library(survival)
  library(jsonlite)
})
out_dir <- "tests/federated"
data_dir <- "tests/data"
ctl <- coxph.control(eps = 1e-12, iter.max = 50, toler.chol = 1e-15)

reference <- function(d, formula_rhs, group, scores, ties = "efron") {
  f <- as.formula(paste("Surv(time, status) ~", formula_rhs, "+ strata(centre)"))
  fit <- coxph(f, data = d, ties = ties, control = ctl)
  rob <- coxph(f, data = d, ties = ties, control = ctl, robust = TRUE)
  d1 <- drop1(fit, test = "Chisq")
  d1 <- d1[!grepl("^strata\\(", rownames(d1)), ]
  lr <- survdiff(as.formula(paste("Surv(time, status) ~", group, "+ strata(centre)")), data = d)
  oe <- rowSums(as.matrix(lr$obs) - as.matrix(lr$exp))
  trend_z <- sum(scores * oe)
  trend_chisq <- trend_z^2 / as.numeric(t(scores) %*% lr$var %*% scores)
  ch <- concordance(fit)
  cu <- concordance(fit, timewt = "n/G2")
  list(
    call = paste0("coxph(", deparse(f), ", ties = '", ties, "', eps = 1e-12); robust = TRUE; ",
                  "drop1(test = 'Chisq'); survdiff(~ ", group, " + strata(centre)); ",
                  "concordance(fit); concordance(fit, timewt = 'n/G2')"),
    n = fit$n, events = fit$nevent, coef = unname(coef(fit)), names = names(coef(fit)),
    var = unname(fit$var), robust_var = unname(rob$var), loglik = fit$loglik,
    score_test = unname(fit$score), wald_test = unname(fit$wald.test),
    lrt = 2 * diff(fit$loglik), iter = fit$iter,
    drop1_terms = rownames(d1)[-1], drop1_lrt = unname(d1$LRT[-1]), drop1_df = unname(d1$Df[-1]),
    logrank_chisq = lr$chisq, logrank_observed = unname(rowSums(as.matrix(lr$obs))),
    logrank_expected = unname(rowSums(as.matrix(lr$exp))), logrank_groups = names(lr$n),
    trend_scores = scores, trend_chisq = trend_chisq,
    harrell_c = unname(coef(ch)), harrell_var = unname(ch$var),
    harrell_count = unname(if (is.matrix(ch$count)) colSums(ch$count)[1:4] else ch$count[1:4]),
    uno_c = unname(coef(cu)), uno_var = unname(cu$var))
}

# colon deaths (etype == 2), three centres by id %% 3
colon_d <- subset(survival::colon, etype == 2,
                  select = c(id, time, status, rx, sex, age, obstruct))
colon_d$centre <- paste0("C", colon_d$id %% 3)
colon_d <- colon_d[complete.cases(colon_d), ]
write.csv(colon_d[, c("time", "status", "rx", "sex", "age", "obstruct", "centre")],
          file.path(data_dir, "colon_death.csv"), row.names = FALSE)
colon_ref <- reference(colon_d, "rx + sex + age + obstruct", "rx", c(1, 2, 3))
# the same with Breslow's ties (SAS PROC PHREG and Stata stcox), which the federated fit
# also takes (cox.ties: breslow)
colon_breslow <- reference(colon_d, "rx + sex + age + obstruct", "rx", c(1, 2, 3),
                           ties = "breslow")

# lung by its real institutions; those with fewer than 5 patients or 5 deaths refused
lung_d <- with(survival::lung, data.frame(time = time, status = status - 1, age = age,
                                           sex = sex, ph_ecog = ph.ecog, inst = inst))
lung_d <- lung_d[complete.cases(lung_d), ]
lung_d$centre <- paste0("inst", lung_d$inst)
write.csv(lung_d[, c("time", "status", "age", "sex", "ph_ecog", "centre")],
          file.path(data_dir, "lung_inst.csv"), row.names = FALSE)
threshold <- 5
by_inst <- aggregate(cbind(n = 1, events = status) ~ centre, data = lung_d, FUN = sum)
refused <- by_inst$centre[by_inst$n < threshold | by_inst$events < threshold]
kept <- lung_d[!(lung_d$centre %in% refused), ]
lung_ref <- reference(kept, "age + sex + ph_ecog", "sex", c(1, 2))
lung_ref$threshold <- threshold
lung_ref$refused <- sort(refused)
# a site withholds its log-rank sums when one of its groups (sex) is below the threshold
sex_counts <- table(kept$centre, kept$sex)
lr_sites <- rownames(sex_counts)[apply(sex_counts, 1, min) >= threshold]
lr_kept <- kept[kept$centre %in% lr_sites, ]
lung_ref$logrank_sites <- sort(lr_sites)
lung_ref$logrank_sites_chisq <- survdiff(Surv(time, status) ~ sex + strata(centre),
                                         data = lr_kept)$chisq

out <- list(
  generated_by = "tests/federated/federated_reference.R",
  versions = list(R = R.version.string,
                  survival = as.character(packageVersion("survival"))),
  colon = colon_ref, lung = lung_ref, colon_breslow = colon_breslow)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE),
           file.path(out_dir, "federated_reference.json"))
