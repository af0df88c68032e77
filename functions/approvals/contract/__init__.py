"""What the compiler and the functions share: the names a compiled machine and its handlers agree
on, the compiled flow (the manifest) and its conditions. Imported by `dsl_compiler` when it writes
a machine and by the functions when they run one; plain Python and pydantic, no AWS, no YAML."""
