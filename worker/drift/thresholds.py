"""The levels every drift check compares with, in one place: a change must be significant
(p below `P_WARN`, critical below `P_CRITICAL`) and, where a PSI is reported, large
(PSI from `PSI_WARN`, critical from `PSI_CRITICAL`). `make calibrate` measures the false
alarms they give."""

from __future__ import annotations

P_WARN, P_CRITICAL = 0.001, 0.0001
PSI_WARN, PSI_CRITICAL = 0.1, 0.25
