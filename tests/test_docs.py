"""The documentation: README.md fits on a screen, the mkdocs site in docs/ builds with no warning,
and the generated configuration reference matches the schema (regenerate it with
`python -m groklab.config.reference`)."""

import os
import re
import subprocess
import sys

README_COMMANDS = ["bash scripts/setup.sh && .venv/bin/snakemake --cores all", "bash scripts/test.sh"]
RUN_OUTPUTS = ("results/", "paper/generated/", "paper/main.pdf")     # made by the run, git-ignored


def test_readme_fits_on_a_screen_and_keeps_the_two_commands(root):
    text = (root / "README.md").read_text()
    assert len(text.splitlines()) <= 150, "README.md is the two-minute page; move detail into docs/"
    for command in README_COMMANDS:
        assert f"\n{command}\n" in text, f"README.md lost its command: {command}"


def test_readme_links_resolve(root):
    text = (root / "README.md").read_text()
    targets = [t.split("#")[0] for t in re.findall(r"\]\(([^)\s]+)\)", text) if "://" not in t]
    assert targets
    missing = [t for t in targets if t and not t.startswith(RUN_OUTPUTS) and not (root / t).exists()]
    assert not missing, f"README.md links to missing files: {missing}"


def test_configuration_reference_is_up_to_date(root):
    from groklab.config.reference import render
    assert (root / "docs" / "configuration-reference.md").read_text() == render(), \
        "run: python -m groklab.config.reference"


def test_mkdocs_site_builds_strict_without_warnings(root, tmp_path):
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}    # Material's end-of-life banner, not a build warning
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(root / "mkdocs.yml"),
                           "-d", str(tmp_path / "site")], capture_output=True, text=True, env=env, cwd=root)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert not re.search(r"^(WARNING|ERROR)\b", output, re.M), output
    assert (tmp_path / "site" / "configuration-reference" / "index.html").exists()
    assert (tmp_path / "site" / "observables" / "index.html").exists()
