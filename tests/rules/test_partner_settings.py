"""The partner settings' one table agrees with every surface that spells them."""

from __future__ import annotations

import dataclasses

from facematch.flows.partners import PartnerOptions
from facematch.rules.partner_settings import SETTINGS
from facematch.storage.models import Partner


def test_every_setting_is_an_option_and_a_column_with_its_default() -> None:
    options = {field.name for field in dataclasses.fields(PartnerOptions)}
    columns = Partner.__table__.columns
    for setting in SETTINGS:
        assert setting.name in options
        column = columns[setting.name]
        if setting.default is not None:
            assert column.default is not None and column.default.arg == setting.default, setting.name


def test_names_flags_and_wire_names_are_unique() -> None:
    for attribute in ("name", "wire", "flag"):
        values = [getattr(setting, attribute) for setting in SETTINGS]
        assert len(values) == len(set(values)), attribute
