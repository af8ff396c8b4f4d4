"""The public verify page: upload an image, see the verdict and the evidence. No login needed;
the same checks and disclosure rules as POST /api/verify."""

from django.conf import settings
from django.shortcuts import render

from mintmark.errors import ApiError
from provenance.verify import image_verify, public_asset

VERDICT_TEXT = {
    "issued_here": (
        "Issued here: intact, signed content credentials name an image released by this "
        "installation."
    ),
    "altered": (
        "Issued here, then changed: the image was released here, but its content credentials "
        "are missing, broken or untrusted."
    ),
    "unknown": "Unknown: nothing links this image to an image released by this installation.",
}


def verify(request):
    context = {"max_mb": settings.MAX_UPLOAD_BYTES // (1024 * 1024)}
    if request.method == "POST":
        upload = request.FILES.get("image")
        if upload is None:
            context["error"] = "Choose an image file to verify."
        elif upload.size > settings.MAX_UPLOAD_BYTES:
            context["error"] = f"The file is over the {context['max_mb']} MB limit."
        else:
            try:
                result = image_verify(upload.read())
            except ApiError as exc:
                context["error"] = exc.detail
            else:
                context["result"] = result
                context["verdict_text"] = VERDICT_TEXT[result.verdict]
                if result.asset is not None:
                    context["public"] = public_asset(result.asset)
    status = 422 if "error" in context else 200
    return render(request, "portal/verify.html", context, status=status)
