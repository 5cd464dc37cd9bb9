"""List matching end to end (${if match_domain/match_address/match_ip/inlist}); expected output is
Exim 4.96's for the same expansions."""
from lookup_helpers import be

CONF = """primary_hostname = test.example
domainlist dl = a.com : *.b.com
addresslist al = u@a.com
hostlist hl = 10.0.0.0/8
"""


def test_lists(run_postern, tmp_path):
    n = tmp_path / "n.txt"
    n.write_text("10.1.2.0/24: net24\n")
    out = be(run_postern,
             "${if match_domain{x.b.com}{+dl}{y}{n}}",
             "${if match_domain{a.com}{!a.com : *}{y}{n}}",
             "${if match_domain{test.example}{@}{y}{n}}",
             "${if match_address{U@A.com}{+al}{y}{n}}",
             "${if match_address{u@a.com}{*@+dl}{y}{n}}",
             "${if match_ip{10.1.2.3}{+hl}{y}{n}}",
             f"${{if match_ip{{10.1.2.3}}{{net24-lsearch;{n}}}{{y}}{{n}}}}",
             "${if match_ip{10.1.2.3}{*.example : 10.1.2.3}{y}{n}}",
             "${if inlist{a}{A:b}{y}{n}}",
             "${if inlisti{a}{A:b}{y}{n}}",
             config=CONF)
    assert out == ["y", "n", "y", "y", "y", "y", "y", "n", "n", "y"]
