"""The schedulers a job may ask for, by name → diffusers class name (no torch import, so the
web process can validate requests without loading diffusers)."""

SCHEDULER_CLASSES = {
    "ddim": "DDIMScheduler",
    "pndm": "PNDMScheduler",
    "euler": "EulerDiscreteScheduler",
    "euler_ancestral": "EulerAncestralDiscreteScheduler",
    "dpmpp_2m": "DPMSolverMultistepScheduler",
    "unipc": "UniPCMultistepScheduler",
    "lms": "LMSDiscreteScheduler",
    "heun": "HeunDiscreteScheduler",
    # SD3 and Flux: rectified-flow models, whose folders' schedule (shift) only this one reads.
    "flow_euler": "FlowMatchEulerDiscreteScheduler",
}
DEFAULT_SCHEDULER = "dpmpp_2m"
FLOW_SCHEDULERS = ("flow_euler",)
NOISE_SCHEDULERS = tuple(name for name in SCHEDULER_CLASSES if name not in FLOW_SCHEDULERS)
