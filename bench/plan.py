"""What the benchmark builds: variants (Dockerfile, cache, compression), scenarios (what
changed since the cold build), and the exact cache and output options of each build."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.builders.buildx import registry_cache
from harness.paths import COMMON_RECIPE, RECIPES
from harness.template import go_image

FIRST_COMMIT = "1" * 40
NEXT_COMMIT = "2" * 40

# The realistic golang stand-in (testbed/standins/golang-debian), named like the official
# image's tag of the same content: golang:<patch>-<Debian release>. Online, this is the
# official image itself.
DEBIAN_RELEASE = "trixie"
JOINED_WARM_UP_RECIPE = RECIPES / "Dockerfile.joined-warm-up"


@dataclass(frozen=True)
class Variant:
    key: str
    name: str
    label: str
    dockerfile: str  # "ours" (the template's), "common" or "joined-warm-up" (harness/recipes)
    cache: str  # "max", "min", "inline" or "none"
    compression: str = ""  # "" (BuildKit's default, gzip), "zstd" or "zstd-force"
    # "docker-container" (buildx, as the dind job builds), "rootless" (buildctl in the
    # -rootless image, as the rootless job builds: harness.builders.rootless.RootlessBuilder) or
    # "shared" (buildx's remote driver on a BuildKit service that stays up between the
    # builds of a run, as the shared job builds: harness.builders.shared.SharedBuildKit)
    builder: str = "docker-container"


VARIANTS = (
    Variant("a", "ours-max", "ours, registry cache mode=max", "ours", "max"),
    Variant("b", "common-max", "common recipe, registry cache mode=max", "common", "max"),
    Variant("c", "ours-min", "ours, registry cache mode=min", "ours", "min"),
    Variant("d", "ours-inline", "ours, inline cache", "ours", "inline"),
    Variant("e", "ours-none", "ours, no external cache", "ours", "none"),
    # Experiments (issue 12): run them with --variants.
    Variant(
        "f", "ours-zstd", "ours, mode=max, zstd for new cache and image layers", "ours", "max",
        "zstd",
    ),
    Variant(
        "g", "ours-zstd-force", "ours, mode=max, zstd for every cache and image layer"
        " (force-compression)", "ours", "max", "zstd-force",
    ),
    Variant(
        "h", "joined-warm-up", "the template before the std stage: one RUN warms up std and"
        " the dependencies (harness/recipes), mode=max", "joined-warm-up", "max",
    ),
    # The rootless builder (issue 10): ours-max through rootless BuildKit.
    Variant(
        "r", "ours-rootless", "ours, mode=max, rootless BuildKit (buildctl, uid 1000)",
        "ours", "max", builder="rootless",
    ),
    # The shared builder (issue 15): ours-max on one BuildKit service per run, new and
    # empty for the cold build and warm for every rebuild after it.
    Variant(
        "s", "ours-shared", "ours, mode=max, a shared BuildKit kept warm between builds"
        " (remote driver, mutual TLS)", "ours", "max", builder="shared",
    ),
)  # fmt: skip
DEFAULT_VARIANTS = ("a", "b", "c", "d", "e")
QUICK_VARIANTS = ("a", "b")

# Build order within a run. dep-bump needs a service with modules (deps).
SCENARIOS = ("cold", "no-change", "source-change", "commit-only", "test-only", "dep-bump")
# The scenarios whose build carries the first commit; the others carry the next one.
SAME_COMMIT = ("cold", "no-change", "test-only")


def select_variants(spec: str) -> list[Variant]:
    """Variants from "a,b,f" (keys) or "ours-max,joined-warm-up" (names); "all" for every one."""
    if spec == "all":
        return list(VARIANTS)
    wanted = [part.strip() for part in spec.split(",") if part.strip()]
    chosen = []
    for item in wanted:
        found = [v for v in VARIANTS if item in (v.key, v.name)]
        if not found:
            known = ", ".join(f"{v.key}={v.name}" for v in VARIANTS)
            raise ValueError(f"unknown variant {item!r} (known: {known})")
        chosen.append(found[0])
    return list(dict.fromkeys(chosen))


def resolve_go_image(choice: str) -> str:
    """--go-image: "debian" (the realistic golang image), "small" (the template's own
    GO_IMAGE, which offline is the small stand-in), or an image reference as given."""
    if choice == "debian":
        return f"{go_image()}-{DEBIAN_RELEASE}"
    if choice == "small":
        return go_image()
    return choice


def dockerfile(variant: Variant) -> Path | None:
    """The Dockerfile to build with, None for the project's own."""
    return {"ours": None, "common": COMMON_RECIPE, "joined-warm-up": JOINED_WARM_UP_RECIPE}[
        variant.dockerfile
    ]


def _compression_options(variant: Variant) -> str:
    if not variant.compression:
        return ""
    force = ",force-compression=true" if variant.compression == "zstd-force" else ""
    return f",compression=zstd{force}"


def cache_to(variant: Variant, ref: str) -> str | None:
    """--cache-to: the pipeline's registry cache options with the variant's mode (and
    compression) written to `ref`, the inline cache (it rides in the image), or none."""
    if variant.cache in ("max", "min"):
        return registry_cache(ref, variant.cache) + _compression_options(variant)
    if variant.cache == "inline":
        return "type=inline"
    return None


def cache_from(variant: Variant, cold_cache: str, cold_image: str, scenario: str) -> list[str]:
    """--cache-from of a rebuild: the run's cold cache (or cold image, for inline)."""
    if scenario == "cold":
        return []
    if variant.cache in ("max", "min"):
        return [f"type=registry,ref={cold_cache}"]
    if variant.cache == "inline":
        return [f"type=registry,ref={cold_image}"]
    return []


def image_output(variant: Variant) -> str | None:
    """--output for the pushed image when its layers are compressed other than by
    default (aligned with the cache, so a layer in both is compressed once); else None,
    and the build uses --push."""
    if not variant.compression:
        return None
    return "type=image,push=true" + _compression_options(variant)


def commit_of(scenario: str) -> str:
    return FIRST_COMMIT if scenario in SAME_COMMIT else NEXT_COMMIT
