"""What the course writes into a workspace, and the lines that tell the learner what became of their code."""

from __future__ import annotations

import json

from tourlab import PROJECT_ROOT
from tourlab.course.exercises import EXERCISES
from tourlab.course.sections import SectionSpec
from tourlab.course.workspace import Kind, Written


def course_cells(spec: SectionSpec) -> dict[str, list[str]]:
    """Per workspace file, the cells the course writes there: its exercises' skeletons and its
    notebook's ``%%handler`` cells (read from the reference copy in ``notebooks/``)."""
    cells: dict[str, list[str]] = {}
    for exercise_id in spec.exercises:
        exercise = EXERCISES.get(exercise_id)
        if exercise is not None:
            cells.setdefault(exercise.file, []).append(exercise.skeleton)
    try:
        notebook = json.loads((PROJECT_ROOT / "notebooks" / f"{spec.notebook}.ipynb").read_text())
    except (OSError, ValueError):
        return cells
    for cell in notebook.get("cells", []):
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else source
        first, _, body = source.partition("\n")
        words = first.split()
        # An exercise cell counts only as its registered skeleton (above): where learners run the reference
        # notebooks themselves (Binder, the Docker image), the saved copy may hold their solution.
        tagged = "exercise" in cell.get("metadata", {}).get("tags", [])
        if cell.get("cell_type") == "code" and words[:1] == ["%%handler"] and len(words) > 1 and not tagged:
            cells.setdefault(words[1], []).append(body)
    return cells


def what_happened_to_yours(file: str, written: Written, kind: Kind, *, comes_back: bool) -> list[str]:
    """One line each: the learner's definitions a write kept, saved before replacing, or put back."""
    lines: list[str] = []
    if written.kept:
        names = ", ".join(written.kept)
        if kind == "yours":
            lines.append(
                f"Kept your version of {names} (changed in the editor); "
                f"`%%handler {file} --force` replaces it, after a backup."
            )
        elif kind == "solution":
            lines.append(f"Kept your version of {names}: it passed its check. force=True replaces it, after a backup.")
        else:
            lines.append(
                f"Kept your version of {names} (not the exercise's starting code); "
                f"`%%handler {file} --force` replaces it, after a backup."
            )
    if written.backup is not None:
        saved = f"workspace/.backups/{written.backup.name}/"
        if kind == "course":
            later = " and comes back at its exercise" if comes_back else ""
            names = ", ".join(written.replaced_yours)
            lines.append(f"This demo replaced your version of {names}: it is saved in {saved}{later}.")
        else:
            lines.append(f"The previous version is saved in {saved}.")
    if written.restored:
        lines.append(f"Put back your version of {', '.join(written.restored)} (a demo cell above had replaced it).")
    return lines


def syntax_error_text(error: SyntaxError) -> str:
    """A syntax error of a ``%%handler`` cell at the cell's own line (the magic's line is line 1), with the caret."""
    lines = [f"✘ This cell has a syntax error on line {error.lineno} of the cell: {error.msg}"]
    if error.text:
        text = error.text.rstrip("\n")
        lines.append(f"    {text}")
        if error.offset:
            lines.append("    " + " " * (max(error.offset, 1) - 1) + "^")
    lines.append("Nothing was written; the code that was live keeps serving.")
    return "\n".join(lines)
