"""What the compiler and the functions share: the names a compiled machine and its handlers agree
on, the compiled flow (the manifest) and its conditions. Imported by `dsl_compiler` when it writes
a machine and by the functions when they run one; plain Python and pydantic, no AWS, no YAML.

Its pydantic models build their validators on first use (`defer_build`): a function validates only
the few of them it meets (one event type, one Task input), so it does not pay for the rest at
every cold start."""
