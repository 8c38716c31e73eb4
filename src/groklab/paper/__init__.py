"""The generated paper: numbers (each with a provenance record), LaTeX tables and macros, audit."""
