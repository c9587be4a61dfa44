module {{ cookiecutter.go_module_path }}

go {{ cookiecutter.go_version }}
