# Reference values of Cox models fitted with Breslow's and the exact method for tied
# event times (R coxph(ties = "breslow" / "exact")), for tests/survival/test_ties.py.
#
# Regenerate (from the repository root):
#     Rscript tests/survival/ties_reference.R
# Needs: r-base-core, r-cran-survival, r-cran-jsonlite, r-cran-kmsurv (Debian packages).
# Output: tests/survival/ties_reference.json. Each data set is written into the JSON
# (its rows as analysed), so that the Python tests need neither R nor the packages.
#
# Data sets, all with tied event times:
#   lung_months  survival::lung, time rounded to whole months (time / 30.44), event =
#                status - 1 (NCCTG lung cancer; Loprinzi et al., J Clin Oncol 1994)
#   synthetic    the bundled synthetic cohort (data/synthetic/cohort.csv), overall
#                survival rounded up to whole months
#   hand         ten patients (the package's docstring example)
#   larynx       KMsurv::larynx (Kardaun 1983; Klein & Moeschberger, Survival Analysis,
#                2nd ed., 2003, section 1.8, Table 8.1)
#   kidtran      KMsurv::kidtran (Klein & Moeschberger 2003, section 1.7, Example 8.3)

suppressPackageStartupMessages({
  library(survival)
  library(jsonlite)
  library(KMsurv)
})

out_file <- "tests/survival/ties_reference.json"

lung_m <- with(survival::lung, data.frame(
  time = round(time / 30.44), event = status - 1, age = age, sex = sex,
  ph_ecog = ph.ecog, inst = inst))
lung_m <- lung_m[complete.cases(lung_m), ]

coh <- read.csv("data/synthetic/cohort.csv", stringsAsFactors = FALSE)
grp <- ifelse(coh$netpet == "P1", "P1",
       ifelse(coh$netpet %in% c("P2", "P3", "P4", "P4a", "P4b"), "P2-4",
       ifelse(coh$netpet == "P5", "P5", NA)))
syn <- data.frame(time = ceiling(coh$os_months), event = coh$os_event,
                  group = grp, age = coh$age_at_diagnosis, centre = coh$centre,
                  stringsAsFactors = FALSE)
syn <- syn[complete.cases(syn), ]
syn$group <- factor(syn$group, levels = c("P1", "P2-4", "P5"))

hand <- data.frame(time = c(1, 2, 2, 3, 4, 4, 5, 6, 7, 8),
                   event = c(1, 1, 0, 1, 1, 1, 0, 1, 0, 1),
                   x = c(3, 1, 2, 2, 3, 1, 1, 2, 3, 1),
                   group = c("a", "b", "a", "b", "a", "b", "a", "b", "a", "b"))

data(larynx, package = "KMsurv")
lar <- data.frame(time = larynx$time, event = larynx$delta,
                  stage = factor(larynx$stage), age = larynx$age)
data(kidtran, package = "KMsurv")
kid <- data.frame(time = kidtran$time, event = kidtran$delta,
                  group = factor(with(kidtran,
                    ifelse(gender == 1 & race == 1, "white male",
                    ifelse(gender == 1, "black male",
                    ifelse(race == 1, "white female", "black female")))),
                    levels = c("white female", "black male", "white male", "black female")))

# R's default stopping rule (eps = 1e-9 on the log likelihood) leaves the estimate about
# its last step (~1e-9 relative) from the maximum; the package continues to the maximum
# (cox.py, _polish), as R does with a smaller eps. The fits here use eps = 1e-12, so
# that both are compared at the maximum to 1e-8.
CONTROL <- coxph.control(eps = 1e-12, toler.chol = 1e-14, iter.max = 100)

# One entry per model and method: what summary(coxph), drop1, basehaz, cox.zph print.
entry <- function(name, df, formula, ties, cluster = NULL) {
  call <- sprintf("coxph(%s, data = %s, ties = '%s'%s)", deparse(formula), name, ties,
                  if (is.null(cluster)) "" else sprintf(", cluster = %s", cluster))
  df$.cluster <- if (is.null(cluster)) NA else df[[cluster]]
  # drop1 and cox.zph re-evaluate the call in the global environment
  assign(".fit_data", df, envir = globalenv())
  fit <- if (is.null(cluster)) eval(bquote(coxph(.(formula), data = .fit_data, ties = .(ties), model = TRUE, control = CONTROL)))
         else eval(bquote(coxph(.(formula), data = .fit_data, ties = .(ties), cluster = .cluster, model = TRUE, control = CONTROL)))
  s <- summary(fit)
  bh <- basehaz(fit, centered = FALSE)
  d1 <- drop1(fit, test = "Chisq")
  z <- cox.zph(fit, transform = "km")
  list(
    call = call, data = name, ties = ties, cluster = cluster,
    coef = unname(coef(fit)), coef_names = names(coef(fit)),
    var = unname(fit$naive.var %||% fit$var), robust_var = if (is.null(cluster)) NULL else unname(fit$var),
    loglik = fit$loglik,
    # model-based tests, unrounded (summary() rounds them, and with a cluster reports
    # the robust Wald and score tests)
    lr = 2 * diff(fit$loglik), score = unname(fit$score),
    wald = drop(coef(fit) %*% solve(fit$naive.var %||% fit$var, coef(fit))),
    drop1 = list(term = rownames(d1)[-1], lrt = unname(d1$LRT[-1]), df = unname(d1$Df[-1])),
    basehaz = list(time = bh$time, hazard = bh$hazard,
                   strata = if (is.null(bh$strata)) NULL else as.character(bh$strata)),
    zph = list(term = rownames(z$table), chisq = unname(z$table[, "chisq"]),
               df = unname(z$table[, "df"]), y = unname(z$y), x = unname(z$x)))
}
`%||%` <- function(a, b) if (is.null(a)) b else a

fits <- list()
for (ties in c("breslow", "exact")) {
  fits[[length(fits) + 1]] <- entry("lung_months", lung_m,
    Surv(time, event) ~ age + sex + ph_ecog, ties)
  fits[[length(fits) + 1]] <- entry("lung_months", lung_m,
    Surv(time, event) ~ age + factor(ph_ecog) + strata(sex), ties)
  fits[[length(fits) + 1]] <- entry("synthetic", syn, Surv(time, event) ~ group + age, ties)
  fits[[length(fits) + 1]] <- entry("hand", hand, Surv(time, event) ~ x + group, ties)
  fits[[length(fits) + 1]] <- entry("larynx", lar, Surv(time, event) ~ stage + age, ties)
  fits[[length(fits) + 1]] <- entry("kidtran", kid, Surv(time, event) ~ group, ties)
}
fits[[length(fits) + 1]] <- entry("lung_months", lung_m, Surv(time, event) ~ age + sex + ph_ecog,
                                  "breslow", cluster = "inst")
fits[[length(fits) + 1]] <- entry("synthetic", syn, Surv(time, event) ~ group + age,
                                  "breslow", cluster = "centre")

out <- list(
  r_version = R.version.string,
  survival_version = as.character(packageVersion("survival")),
  kmsurv_version = as.character(packageVersion("KMsurv")),
  data = list(lung_months = lung_m, synthetic = transform(syn, group = as.character(group)),
              hand = hand, larynx = transform(lar, stage = as.character(stage)),
              kidtran = transform(kid, group = as.character(group))),
  fits = fits,
  # Klein & Moeschberger (2003), printed to four decimals: Breslow fits.
  textbook = list(
    larynx_table_8_1 = list(
      source = "Klein & Moeschberger, Survival Analysis, 2nd ed. (2003), Table 8.1 (stage + age, Breslow)",
      coef = c(0.1386, 0.6383, 1.6931, 0.0189), se = c(0.4623, 0.3561, 0.4222, 0.0143),
      p = c(0.7644, 0.0730, NA, 0.1847)),  # stage 4: p < 0.0001
    kidtran_example_8_3 = list(
      source = "Klein & Moeschberger, Survival Analysis, 2nd ed. (2003), Example 8.3 (race x sex vs white females, Breslow)",
      coef = c(0.1596, 0.2484, 0.6567))))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, null = "null", na = "null", pretty = FALSE),
           out_file)
