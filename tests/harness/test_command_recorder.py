"""The recorder behind the pipeline tier's password check sees every argument, so a
password passed with `-p` would be caught (as it would show in `ps`)."""

from __future__ import annotations

import subprocess

from harness.ci.command_recorder import CommandRecorder


def test_recorder_keeps_each_call_and_each_argument(tmp_path):
    recorder = CommandRecorder("true", tmp_path)
    wrapper = str(recorder.folder / "true")
    job = {"PATH": "/usr/bin:/bin", "CI_JOB_NAME": "build-image"}
    subprocess.run([wrapper, "login", "-p", "s3 'cr\"et\nx", "registry"], env=job, check=True)
    subprocess.run([wrapper], check=True)
    subprocess.run([wrapper, "", "\x1eafter a separator"], check=True)
    assert recorder.calls() == [
        ["login", "-p", "s3 'cr\"et\nx", "registry"],
        [],
        ["", "\x1eafter a separator"],
    ]
    assert recorder.calls("build-image") == [["login", "-p", "s3 'cr\"et\nx", "registry"]]
