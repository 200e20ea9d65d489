"""The docs cannot rot: every command in a ``sh``/``console`` block of ``docs/*.md`` is run,
every YAML example loads (and a host config passes the config checker), every Python
example compiles (and a complete one runs).

Commands run in order, one doc at a time, in a scratch directory that looks like the
repository (``hostconfig``, ``plugins``, ``deploy`` linked in) with its own ``.venv`` layered
on the test venv (``tests/freshvenv.py``): what a doc pip-installs stays there. An
``iochost serve`` is started in the background, waited for until it serves, and stopped
(SIGINT, exit status 0) when the doc serves something else or ends, so the client commands
after it run against it. A ``console`` block's output lines must appear in the output.
Servers use this session's subprocess port, and clients search it, on loopback only.
"""
from __future__ import annotations

import ast
import builtins
import importlib.util
import os
import re
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from freshvenv import fresh_venv

import iochost
from iochost.host import hookimpl, load_config_text, load_plugins, validate
from iochost.host.newplugin import write_plugin
from iochost.testing import wait_until

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted((ROOT / "docs").glob("*.md"))
FENCE = re.compile(r"^( *)```(\w*)\n(.*?)^\1```", re.MULTILINE | re.DOTALL)
STARTUP_TIMEOUT = 30.0

#: commands not run here, by their program, each with the reason
NOT_RUN = {
    "systemctl": "needs a booted systemd (tests/deploy/test_systemd.py verifies the unit)",
    "journalctl": "needs a booted systemd (tests/deploy/test_systemd.py verifies the unit)",
    "podman": "no container engine here (tests/deploy/test_container.py lints the image)",
    "helm": "no cluster nor helm here (tests/deploy/test_helm.py renders the chart)",
    "kubectl": "no cluster here (tests/deploy/test_helm.py validates the objects)",
}
#: ... or by a path they install into
SYSTEM_PATHS = {
    "/etc/": "uses the machine's configuration directory",
    "/opt/": "installs into the machine (tests/host/test_new_plugin.py does the same in a "
             "fresh venv)",
}
#: Python blocks that are notation, not code
SKETCHES = {"internals.md": "the layer contracts in signature notation, bodies left out"}

#: what a reader of a doc has imported when an example continues an earlier one
FACADE = {name: getattr(iochost, name) for name in iochost.__all__}


@dataclass(frozen=True)
class Block:
    doc: str
    line: int
    lang: str
    body: str

    def __str__(self) -> str:
        return f"{self.doc}:{self.line}"


def blocks(lang: str | None = None, docs=DOCS) -> list[Block]:
    found = []
    for path in docs:
        text = path.read_text()
        for match in FENCE.finditer(text):
            indent, language, body = match.groups()
            if lang is None or language == lang:
                body = "\n".join(line[len(indent):] for line in body.splitlines())
                found.append(Block(path.name, text[:match.start()].count("\n") + 1,
                                   language, body))
    return found


def readme_commands() -> list[str]:
    return re.findall(r"^ *```\n *(.+?)\n *```", (ROOT / "README.md").read_text(),
                      flags=re.MULTILINE)[:2]


@dataclass
class Command:
    line: str
    expected: list[str]


def commands(doc: Path) -> list[Command]:
    """The doc's shell commands in order: every line of a ``sh`` block, the ``$ `` lines of
    a ``console`` block with the output lines shown after each."""
    found: list[Command] = []
    for block in blocks(docs=[doc]):
        if block.lang not in ("sh", "console"):
            continue
        lines = re.sub(r"\\\n\s*", "", block.body).splitlines()
        for line in lines:
            if block.lang == "sh":
                if line.strip() and not line.lstrip().startswith("#"):
                    found.append(Command(line.strip(), []))
            elif line.startswith("$ "):
                found.append(Command(line[2:].strip(), []))
            elif line.strip() and found:
                found[-1].expected.append(" ".join(line.split()))
    return found


def why_not_run(command: str) -> str | None:
    if command in readme_commands():
        return "a README command: CI runs them verbatim (.ci/run; tests/test_package.py)"
    program = command.split()[0]
    if program in NOT_RUN:
        return NOT_RUN[program]
    return next((why for path, why in SYSTEM_PATHS.items() if path in command), None)


class DocShell:
    """Runs a doc's commands in ``sandbox``; at most one ``iochost serve`` at a time."""

    def __init__(self, sandbox: Path) -> None:
        self.sandbox = sandbox
        port = os.environ["IOCHOST_TEST_SUBPROCESS_PORT"]
        self.env = dict(os.environ, EPICS_CAS_SERVER_PORT=port, EPICS_CA_SERVER_PORT=port,
                        PATH=f"{sandbox / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}",
                        IOCHOST_ONLY_PLUGINS="iochost-examples,iochost-oven")
        self.env.pop("PYTHONPATH", None)
        self.server: subprocess.Popen | None = None
        self.server_log = sandbox / "serve.log"

    def run(self, command: Command) -> None:
        if re.search(r"\biochost serve\b", command.line):
            self.serve(command.line)
            return
        proc = subprocess.run(["bash", "-c", command.line], cwd=self.sandbox, env=self.env,
                              capture_output=True, text=True, timeout=180)
        output = proc.stdout + proc.stderr
        assert proc.returncode == 0, f"{command.line}\n{output}"
        shown = {" ".join(line.split()) for line in output.splitlines()}
        for line in command.expected:
            assert line in shown, f"{command.line}: {line!r} not in its output:\n{output}"
        # pyepics' banner (docs/quickstart.md) never comes from our own tools
        assert "caRepeater" not in output, output

    def serve(self, line: str) -> None:
        self.stop()
        with open(self.server_log, "w") as log:      # the child keeps its copy
            self.server = subprocess.Popen(["bash", "-c", f"exec {line}"], cwd=self.sandbox,
                                           env=self.env, stdout=log, stderr=log,
                                           start_new_session=True)
        server = self.server
        assert wait_until(lambda: " serving " in self.server_log.read_text() or
                          server.poll() is not None, STARTUP_TIMEOUT), line
        assert server.poll() is None, self.server_log.read_text()

    def stop(self) -> None:
        server, self.server = self.server, None
        if server is None:
            return
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGINT)      # Ctrl-C, as the docs say
        try:
            status = server.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(5)
            raise
        assert status == 0, self.server_log.read_text()


@pytest.fixture
def sandbox(tmp_path) -> Path:
    for name in ("hostconfig", "plugins", "deploy", "docs"):
        (tmp_path / name).symlink_to(ROOT / name)
    fresh_venv(tmp_path / ".venv")
    return tmp_path


DOCS_WITH_COMMANDS = [doc for doc in DOCS if commands(doc)]


@pytest.mark.parametrize("doc", DOCS_WITH_COMMANDS, ids=[d.name for d in DOCS_WITH_COMMANDS])
def test_every_command_in_the_doc_runs(doc, sandbox):
    shell = DocShell(sandbox)
    skipped = []
    try:
        for command in commands(doc):
            reason = why_not_run(command.line)
            if reason:
                skipped.append(f"{command.line[:60]}: {reason}")
            else:
                shell.run(command)
    finally:
        shell.stop()
    if len(skipped) == len(commands(doc)):
        pytest.skip("; ".join(skipped))


def test_the_skip_rules_are_few_and_each_is_used():
    """Every rule of NOT_RUN / SYSTEM_PATHS skips some command (no stale rule), and a new
    user's path, the quick start, runs every command but the README's own two."""
    every = [c.line for doc in DOCS for c in commands(doc)]
    for rule in [*NOT_RUN, *SYSTEM_PATHS]:
        assert any(rule in line.split()[0] or rule in line for line in every), rule
    skipped = [c.line for c in commands(ROOT / "docs" / "quickstart.md")
               if why_not_run(c.line)]
    assert skipped == readme_commands()


# -- YAML ---------------------------------------------------------------------------------


def _define(block_doc: str, class_name: str) -> type:
    """The class ``class_name`` from the Python example of ``block_doc`` that defines it."""
    block = next(b for b in blocks("python", [ROOT / "docs" / block_doc])
                 if f"class {class_name}(" in b.body)
    namespace: dict = {**FACADE, "__name__": f"docs_{class_name.lower()}"}
    exec(compile(block.body, str(block), "exec"), namespace)
    return namespace[class_name]


@pytest.fixture(scope="module")
def docs_catalog(tmp_path_factory):
    """The installed plugins plus the IOCs the docs define and mount: the Thermometer of
    hooks.md, the Vacuum of access.md, the Counter of migrating-from-caproto.md, and the
    oven of quickstart.md (``iochost new-plugin oven``)."""
    project, _ = write_plugin("oven", tmp_path_factory.mktemp("oven") / "iochost-oven")
    spec = importlib.util.spec_from_file_location("docs_oven", project / "iochost_oven" /
                                                  "ioc.py")
    oven = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(oven)
    iocs = {"thermometer": _define("hooks.md", "Thermometer"),
            "vacuum": _define("access.md", "Vacuum"),
            "counter": _define("migrating-from-caproto.md", "Counter"),
            "oven": oven.OvenIOC}

    class DocsPlugin:
        @staticmethod
        @hookimpl
        def iochost_register_iocs(register):
            for name, cls in iocs.items():
                register(name, cls)

    return load_plugins(extra_plugins={"docs-iocs": DocsPlugin})


TOP_KEYS = {"host", "macros", "ca", "mounts", "access", "web"}


@pytest.mark.parametrize("block", blocks("yaml"), ids=str)
def test_every_yaml_example_loads_and_a_host_config_passes_the_checker(block, docs_catalog):
    data = yaml.safe_load(block.body)
    if not isinstance(data, dict) or not set(data) <= TOP_KEYS:
        return          # a fragment (a comment, a mount's helpers): loading is the check
    # blank lines first: the checker's file:line then points into the doc itself
    config = load_config_text("\n" * block.line + block.body, block.doc, environ={})
    validate(config, docs_catalog)       # raises ConfigError naming every problem


# -- Python -------------------------------------------------------------------------------


def unresolved(tree: ast.Module) -> set[str]:
    """Names the module level uses but neither defines nor imports (function bodies run
    later, so only their decorators and defaults count)."""
    used, bound = set(), set(dir(builtins))

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            bound.add(getattr(node, "name", ""))
            for part in (*getattr(node, "decorator_list", ()), *node.args.defaults):
                visit(part)
            return
        if isinstance(node, ast.ClassDef):
            bound.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            bound.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.Name):
            (used if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return used - bound


def fragment(block: Block) -> str | None:
    """Why an example is compiled only, or None when it runs as it stands (given the
    framework's names, ``from iochost import ...``, that an earlier example imported)."""
    tree = ast.parse(block.body)
    if any(isinstance(node, ast.Await) for node in ast.walk(tree)) and "async def" not in \
            block.body:
        return "top-level await"
    missing = unresolved(tree) - set(FACADE)
    if missing:
        return f"continues an earlier example ({', '.join(sorted(missing))})"
    if any(isinstance(node, ast.ImportFrom) and node.level for node in ast.walk(tree)):
        return "a module of a package (relative import)"
    if "asyncio.run(" in block.body:
        return "a program that talks to a server"
    return None


PYTHON = [block for block in blocks("python") if block.doc not in SKETCHES]


@pytest.mark.parametrize("block", PYTHON, ids=str)
def test_every_python_example_compiles_and_a_complete_one_runs(block):
    code = compile(block.body, str(block), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    if fragment(block) is None:
        # class definitions check their hooks' signatures, pvproperty its keywords
        exec(code, {**FACADE, "__name__": "docs_example"})


def test_most_python_examples_run_as_they_stand():
    runnable = [block for block in PYTHON if fragment(block) is None]
    assert len(runnable) >= len(PYTHON) / 2, [(str(b), fragment(b)) for b in PYTHON]
