"""A plain (non-editable) `pip install .` finds the templates and the kernel library too."""

import os
import subprocess
import sys

import pytest
from helpers import DIGITS, ROOT


@pytest.mark.skipif(os.environ.get("MCUGEN_SKIP_INSTALL_TEST") == "1", reason="MCUGEN_SKIP_INSTALL_TEST=1")
def test_wheel_install_finds_templates(tmp_path):
    target = tmp_path / "site"
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--quiet",
                           "--target", str(target), str(ROOT)], capture_output=True, text=True)
    if proc.returncode != 0 and "setuptools" in proc.stderr:
        pytest.skip("setuptools is not available for a no-isolation build")
    assert proc.returncode == 0, proc.stderr
    env = dict(os.environ, PYTHONPATH=str(target))
    # Run from an empty folder so the source checkout is not importable.
    code = ("from mcugen.backend import codegen; d = codegen.templates_dir(); k = codegen.kernels_dir(); print(d, k); "
            "assert (d / 'model.c.j2').is_file() and (d / 'target' / 'link.ld').is_file(); "
            "assert (d / 'target' / 'runner.c.j2').is_file() and str(k).startswith(str(d.parent)); "
            "assert (k / 'mcugen_common_s8.h').is_file() and (k / 'mcugen_conv_f32.c').is_file()")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert str(target) in proc.stdout
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "mcugen", "compile", str(DIGITS), "-o", str(out)],
                          capture_output=True, text=True, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (out / "digits_mobilenet_v1.c").is_file()
    proc = subprocess.run([sys.executable, "-m", "mcugen", "compile", str(DIGITS), "-o", str(tmp_path / "out32"),
                           "--precision", "float32"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
