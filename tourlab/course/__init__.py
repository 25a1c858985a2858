"""The course machinery behind the notebooks: sections, workspaces, the %%handler magic,
exercise checks and progress.

>>> from tourlab.course import open_section
>>> section = open_section("01_invoking_handlers")
>>> lab = section.lab
"""

from tourlab.course.clicks import Click, wait_for_click
from tourlab.course.exercises import EXERCISES, CheckResult, Exercise, find_exercise, run_check
from tourlab.course.opening import open_section
from tourlab.course.progress import Progress, course_overview
from tourlab.course.section import Section
from tourlab.course.sections import SECTIONS, SectionSpec, find_section
from tourlab.course.views import Shown, code_view, seconds_between
from tourlab.course.workspace import Workspace, workspace_root

__all__ = [
    "EXERCISES",
    "SECTIONS",
    "CheckResult",
    "Click",
    "Exercise",
    "Progress",
    "Section",
    "SectionSpec",
    "Shown",
    "Workspace",
    "code_view",
    "course_overview",
    "find_exercise",
    "find_section",
    "open_section",
    "run_check",
    "seconds_between",
    "wait_for_click",
    "workspace_root",
]
