"""The layout says what is what: reproduce/ holds the paper's scripts only, the studies
beyond it sit in studies/, their shared code in the installed ``experiments`` package;
no script edits sys.path or imports another script, and the library packages do not
import the scripts."""
import ast
import subprocess
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
PAPER_SCRIPTS = {"table1.py", "fig5.py", "fig6.py", "fig7.py", "fig8.py"}
SCRIPT_FOLDERS = ("reproduce", "studies", "benchmarks", "examples")
LIBRARY = ("models", "data", "runtime", "experiments")


def imported_modules(path):
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names += [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
    return names


def test_reproduce_holds_the_papers_scripts_only():
    found = {p.name for p in (REPOSITORY / "reproduce").glob("*.py")} - {"__init__.py"}
    assert found == PAPER_SCRIPTS


def test_no_script_edits_sys_path_or_imports_a_script():
    for folder in (*SCRIPT_FOLDERS, *LIBRARY):
        for path in (REPOSITORY / folder).rglob("*.py"):
            text = path.read_text()
            assert "sys.path" not in text, path
            scripts = [name for name in imported_modules(path)
                       if name.split(".")[0] in ("reproduce", "studies", "benchmarks", "examples")]
            assert scripts == [], (path, scripts)


def test_models_and_data_do_not_import_each_other_or_the_experiments():
    for package, forbidden in (("models", ("data", "experiments")),
                               ("data", ("models", "experiments"))):
        for path in (REPOSITORY / package).rglob("*.py"):
            bad = [n for n in imported_modules(path) if n.split(".")[0] in forbidden]
            assert bad == [], (path, bad)


def test_a_paper_script_runs_from_any_folder(tmp_path):
    """The project is installed (requirements.txt installs it): no path juggling."""
    finished = subprocess.run([sys.executable, str(REPOSITORY / "reproduce" / "table1.py"),
                               "--help"], cwd=tmp_path, capture_output=True, text=True,
                              timeout=120)
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert finished.stdout.startswith("usage: table1.py")


# experiments/ by responsibility, each sub-package building only on those before it.
EXPERIMENT_LAYERS = ("paper", "statistics", "runs", "measurement", "execution", "reports",
                     "beyond_paper", "segmentation", "findings")


def test_experiments_is_sub_packages_each_importing_only_the_layers_below():
    """No module at experiments/'s top but its __init__; each sub-package has a docstring
    and at most about eight modules; no import runs up the layers (a findings page that
    needs a study's code, execution that needs the command line)."""
    top = sorted(p.name for p in (REPOSITORY / "experiments").glob("*.py"))
    assert top == ["__init__.py"], top
    found = sorted(p.name for p in (REPOSITORY / "experiments").iterdir()
                   if p.is_dir() and p.name != "__pycache__")
    assert found == sorted(EXPERIMENT_LAYERS)
    for index, layer in enumerate(EXPERIMENT_LAYERS):
        folder = REPOSITORY / "experiments" / layer
        assert ast.get_docstring(ast.parse((folder / "__init__.py").read_text())), layer
        modules = [p for p in folder.glob("*.py") if p.name != "__init__.py"]
        assert len(modules) <= 9, (layer, len(modules))
        allowed = set(EXPERIMENT_LAYERS[:index + 1])
        for path in modules:
            above = {name.split(".")[1] for name in imported_modules(path)
                     if name.startswith("experiments.") and len(name.split(".")) > 1
                     and name.split(".")[1] not in allowed}
            assert not above, (path.relative_to(REPOSITORY), above)


def test_the_library_raises_and_only_scripts_exit_or_print():
    """models/, data/ and experiments/ raise exceptions (``runtime.errors``) and report
    through the console; the scripts' edge (``runtime.console.script_main``) turns them
    into an error line and an exit status, so the library runs in a notebook or a test."""
    import re
    pattern = re.compile(r"SystemExit|sys\.exit|^\s*print\(", re.M)
    for package in ("models", "data", "experiments"):
        for path in (REPOSITORY / package).rglob("*.py"):
            found = pattern.findall(path.read_text())
            assert not found, (path.relative_to(REPOSITORY), found)
