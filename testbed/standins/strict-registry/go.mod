module gotpl.test/strict-registry

go 1.24
