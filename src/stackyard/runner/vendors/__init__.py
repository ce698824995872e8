"""The vendors a stack may name, as one explicit table."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from stackyard.runner.vendors.ansible import Ansible
from stackyard.runner.vendors.base import ApplyResult, ModuleTester, ModuleTestResult, PlanResult, RunContext, Vendor
from stackyard.runner.vendors.commands import Commands
from stackyard.runner.vendors.opentofu import OpenTofu

__all__ = [
    "TESTERS", "VENDORS", "ApplyResult", "ModuleTestResult", "ModuleTester", "PlanResult", "RunContext", "Vendor",
]

VENDORS: Mapping[str, Vendor] = MappingProxyType(
    {
        "opentofu": OpenTofu(name="opentofu", binary_name="tofu"),
        "terraform": OpenTofu(name="terraform", binary_name="terraform"),
        "ansible": Ansible(),
        "commands": Commands(),
    }
)

# The vendors a module may name: the ones that know how to test a module.
TESTERS: Mapping[str, ModuleTester] = MappingProxyType(
    {
        "opentofu": OpenTofu(name="opentofu", binary_name="tofu"),
        "terraform": OpenTofu(name="terraform", binary_name="terraform"),
        "commands": Commands(),
    }
)
