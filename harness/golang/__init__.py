"""Go helpers: the deps service, its module proxy, and the evidence of a go-test job."""
