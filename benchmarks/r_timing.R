# The timer of the R benchmarks (r_benchmark.R, r_new_paths.R), sourced by each: the
# median over `reps` of the time per evaluation; fast expressions are evaluated k times
# per measurement (k grown until a measurement takes >= 0.2 s), because R's clock
# resolves 1 ms. `repeats` is the calling script's number of samples.
timed <- function(name, expr, reps = repeats) {
  e <- substitute(expr)
  env <- parent.frame()
  run <- function(k) system.time(for (j in seq_len(k)) eval(e, env))[["elapsed"]]
  k <- 1
  while (k < 1e5 && run(k) < 0.2) k <- k * 10
  times <- replicate(reps, run(k) / k)
  cat(name, "\t", format(median(times), digits = 6), "\n", sep = "")
}
