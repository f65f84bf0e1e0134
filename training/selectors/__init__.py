"""Training selectors (reads), one module per area: ``runs`` (runs, GPU hosts, the queue, eval
results) and ``results`` (the paper's Table 2 and Figure 3 from EvalResult rows)."""
