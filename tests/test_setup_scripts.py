"""The README's first command installs the same TeX packages as CI (scripts/tex-packages.txt through
scripts/install-tex.sh), and where it cannot install them it says how and goes on."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _packages() -> list[str]:
    lines = (ROOT / "scripts/tex-packages.txt").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def test_setup_and_ci_share_one_tex_installer():
    assert "latexmk" in _packages() and "texlive-latex-base" in _packages()
    for script in ("scripts/setup.sh", ".ci/run"):
        text = (ROOT / script).read_text()
        assert "scripts/install-tex.sh" in text, script
        assert "texlive" not in text, f"{script} names TeX packages itself instead of scripts/tex-packages.txt"


def _bare_path(tmp_path: Path) -> str:
    """A PATH with the shell tools install-tex.sh needs, but no apt-get, sudo, latexmk or pdftoppm."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "grep", "id", "dirname", "env", "cat"):
        os.symlink(shutil.which(tool), bin_dir / tool)
    return str(bin_dir)


def test_without_apt_it_prints_the_exact_command_and_goes_on(tmp_path):
    env = {"PATH": _bare_path(tmp_path), "HOME": str(tmp_path)}
    done = subprocess.run(["bash", "scripts/install-tex.sh"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "apt-get install -y --no-install-recommends " + " ".join(_packages()) in done.stdout
    assert "paper/main.pdf will be skipped" in done.stdout
    required = subprocess.run(["bash", "scripts/install-tex.sh", "--require"], cwd=ROOT, env=env,
                              capture_output=True, text=True)
    assert required.returncode == 1


def test_skip_switch_and_installed_tex_do_nothing(tmp_path):
    env = {"PATH": _bare_path(tmp_path), "HOME": str(tmp_path), "GROKLAB_SKIP_TEX": "1"}
    done = subprocess.run(["bash", "scripts/install-tex.sh", "--require"], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout == ""


def test_the_compiler_installer_prints_its_command_without_apt_and_ci_requires_it(tmp_path):
    import sys
    env = {"PATH": _bare_path(tmp_path), "HOME": str(tmp_path), "PYTHON": sys.executable}
    done = subprocess.run(["bash", "scripts/install-compiler.sh"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "apt-get install -y --no-install-recommends g++ python3-dev" in done.stdout
    assert "training.compile falls back to eager training" in done.stdout
    required = subprocess.run(["bash", "scripts/install-compiler.sh", "--require"], cwd=ROOT, env=env,
                              capture_output=True, text=True)
    assert required.returncode == 1
    assert "scripts/install-compiler.sh --require" in (ROOT / ".ci/run").read_text()
    assert "scripts/install-compiler.sh" in (ROOT / "scripts/setup.sh").read_text()
