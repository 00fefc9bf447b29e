"""Instructions -> stages: the global ARGs before the first FROM, each FROM's stage, and
which stages a target needs (a FROM naming an earlier stage, COPY --from, RUN --mount from=)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Optional

from ..errors import InvalidArgument
from .parser import Containerfile, Instruction, ParseError
from .words import ExpansionError, expand, name_values


@dataclass
class Stage:
    index: int
    name: Optional[str]           # `AS name`, lower-cased (stage names ignore case)
    base: str                     # the FROM image as written, before expansion
    from_ins: Instruction
    instructions: list[Instruction] = field(default_factory=list)

    def label(self) -> str:
        return self.name or str(self.index)


@dataclass
class Plan:
    global_args: list[Instruction]
    stages: list[Stage]
    file: Containerfile

    def find(self, ref: str, before: Optional[int] = None) -> Optional[Stage]:
        """The stage a name or index refers to (only stages before `before`, when given)."""
        limit = len(self.stages) if before is None else before
        if ref.isdigit():
            i = int(ref)
            return self.stages[i] if i < limit else None
        low = ref.lower()
        for s in self.stages[:limit]:
            if s.name == low:
                return s
        return None


def split(cf: Containerfile) -> Plan:
    global_args: list[Instruction] = []
    stages: list[Stage] = []
    for ins in cf.instructions:
        if ins.keyword == "FROM":
            words = ins.args.split()
            name = words[2].lower() if len(words) == 3 else None
            if name and any(s.name == name for s in stages):
                raise ParseError(f"{cf.name}:{ins.line}: duplicate stage name {words[2]!r}")
            stages.append(Stage(len(stages), name, words[0], ins))
        elif not stages:
            if ins.keyword != "ARG":
                raise ParseError(f"{cf.name}:{ins.line}: the first instruction must be FROM (only ARG may "
                                 f"come before it), not {ins.keyword}")
            global_args.append(ins)
        else:
            stages[-1].instructions.append(ins)
    if not stages:
        raise ParseError(f"{cf.name}: no FROM instruction: there is nothing to build")
    return Plan(global_args, stages, cf)


def global_values(plan: Plan, build_args: Mapping[str, str], builtin: Mapping[str, str]) -> dict[str, str]:
    """The values of the ARGs declared before the first FROM (a --build-arg wins over the
    default), with the built-in platform ARGs; what FROM lines are expanded with."""
    values: dict[str, str] = dict(builtin)
    escape = plan.file.escape
    for ins in plan.global_args:
        for name, raw in name_values(ins.args, "ARG", escape):
            if name in build_args:
                values[name] = build_args[name]
            elif raw is not None:
                try:
                    values[name] = expand(raw, values, escape)
                except ExpansionError as exc:
                    raise InvalidArgument(f"{plan.file.name}:{ins.line}: {exc}") from None
            elif name not in values:
                values.setdefault(name, "")
    return values


def base_of(plan: Plan, stage: Stage, globals_: Mapping[str, str]) -> str:
    """The stage's FROM, expanded with the global ARGs."""
    try:
        base = expand(stage.base, globals_, plan.file.escape)
    except ExpansionError as exc:
        raise InvalidArgument(f"{plan.file.name}:{stage.from_ins.line}: {exc}") from None
    if not base:
        raise InvalidArgument(f"{plan.file.name}:{stage.from_ins.line}: FROM {stage.base} names no image "
                              "(an ARG that is empty?)")
    return base


def references(plan: Plan, stage: Stage, globals_: Mapping[str, str]) -> list[str]:
    """What the stage reads from other stages or images: its FROM and every --from."""
    refs = [base_of(plan, stage, globals_)]
    for ins in stage.instructions:
        values: list[str] = []
        if ins.keyword == "COPY" and ins.flag("from"):
            values.append(ins.flag("from") or "")
        elif ins.keyword == "RUN":
            for spec in ins.flag_values("mount"):
                for item in spec.split(","):
                    k, _, v = item.partition("=")
                    if k.strip() == "from" and v:
                        values.append(v)
        for v in values:
            try:
                refs.append(expand(v, globals_, plan.file.escape))
            except ExpansionError:
                refs.append(v)
    return refs


def needed(plan: Plan, target: Optional[str], globals_: Mapping[str, str]) -> tuple[Stage, list[Stage]]:
    """The target stage (the last one by default) and every stage it needs, in file order."""
    if target:
        stage = plan.find(target)
        if stage is None or target.isdigit():
            raise InvalidArgument(f"target stage {target!r} not found in {plan.file.name}")
    else:
        stage = plan.stages[-1]
    want: set[int] = set()
    todo = [stage]
    while todo:
        s = todo.pop()
        if s.index in want:
            continue
        want.add(s.index)
        for ref in references(plan, s, globals_):
            dep = plan.find(ref, before=s.index)
            if dep is not None:
                todo.append(dep)
    return stage, [s for s in plan.stages if s.index in want]
