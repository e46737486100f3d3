"""params/{association,basket,checkout}_node.yaml hold exactly the config fields, with units, valid."""
from __future__ import annotations

import dataclasses
import re

import pytest
import yaml

from walkout_core.association.config import AssociationConfig
from walkout_core.basket.config import BasketConfig
from walkout_core.checkout.config import CheckoutConfig
from walkout_core.config import from_mapping
from walkout_core.layout import params_dir


@pytest.mark.parametrize('node,cls', [('association_node', AssociationConfig), ('basket_node', BasketConfig),
                                      ('checkout_node', CheckoutConfig)])
def test_param_file_matches_config(node, cls):
    path = params_dir() / f'{node}.yaml'
    values = yaml.safe_load(path.read_text())[node]['ros__parameters']
    assert set(values) == {f.name for f in dataclasses.fields(cls)}
    cfg = from_mapping(cls, values)                        # valid, and the types fit
    for f in dataclasses.fields(cls):
        assert type(getattr(cfg, f.name)) is type(f.default), f.name
    for line in path.read_text().splitlines():
        if re.match(r'^\s{4}\w+:', line):
            assert re.search(r'#\s*\[[^\]]+\]', line), f'no [unit] comment: {line}'


def test_out_of_range_names_the_parameter():
    with pytest.raises(ValueError, match='review_confidence'):
        from_mapping(AssociationConfig, {'review_confidence': 1.5})
    with pytest.raises(ValueError, match='terminal'):
        from_mapping(CheckoutConfig, {'terminal': 'acme'})
