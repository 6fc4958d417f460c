"""Who sees which class (ADR 0023, decision 5): an admin every class; an instructor the
classes they own; a student the classes whose students include them (by their email, or its
pseudonym under the class's salt: persistence finds them), and of those only their own
timeline. A class the caller may not see is answered as one that does not exist (404
``class_not_found``), so that its existence is not revealed."""

from __future__ import annotations

from pulse_contracts.classroom import ClassInfo, ClassList, ClassReply, GetClass, ListClasses
from pulse_runtime.access_tokens import AccessClaims
from pulse_runtime.web import ApiError

from .client import ClassroomClient


def class_not_found(class_id: str) -> ApiError:
    return ApiError(404, "class_not_found", f"no class {class_id!r}")


def viewer(claims: AccessClaims) -> ListClasses:
    return ListClasses(viewer_id=claims.sub, viewer_role=claims.role, viewer_email=claims.email)


async def visible_classes(classroom: ClassroomClient, claims: AccessClaims) -> list[ClassInfo]:
    return (await classroom.call(viewer(claims), ClassList)).classes


def manages(claims: AccessClaims, info: ClassInfo) -> bool:
    """An admin manages every class; an instructor the ones they own."""
    return claims.role == "admin" or (claims.role == "instructor" and info.owner_id == claims.sub)


async def visible_class(
    classroom: ClassroomClient, claims: AccessClaims, class_id: str
) -> ClassInfo:
    """The class, if the caller may see it; else 404 ``class_not_found``. A student's copy
    carries the id their events carry in it (``student_id``)."""
    if claims.role == "student":
        for info in await visible_classes(classroom, claims):
            if info.id == class_id:
                return info
        raise class_not_found(class_id)
    info = (await classroom.call(GetClass(class_id=class_id), ClassReply)).class_
    if not manages(claims, info):
        raise class_not_found(class_id)
    return info


async def managed_class(
    classroom: ClassroomClient, claims: AccessClaims, class_id: str
) -> ClassInfo:
    """The class, if the caller owns it or is an admin; else 404 ``class_not_found`` (a
    student who sees it gets 403: they know it exists)."""
    info = await visible_class(classroom, claims, class_id)
    if not manages(claims, info):
        raise ApiError(403, "forbidden", "only the class's instructor or an admin may do this")
    return info


async def timeline_allowed(
    classroom: ClassroomClient, claims: AccessClaims, class_id: str, student_id: str
) -> None:
    """The class's owner and admins see every student's timeline; a student only their own
    (403 ``forbidden`` for another's, in a class they see)."""
    info = await visible_class(classroom, claims, class_id)
    if claims.role == "student" and info.student_id != student_id:
        raise ApiError(403, "forbidden", "a student sees only their own timeline")
