# kd_toolkit: two commands on a fresh machine.
#   make demo   distil on Fashion-MNIST, export the student, print reports
#   make test   install everything and run the test suite
VENV ?= .venv
PY := $(VENV)/bin/python
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
FASHION_MNIST := /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz
DEMO_DIR ?= runs/demo
# The shipped teacher (kd_toolkit/pretrained, 93.11%) is distilled into a
# resnet8 student from the teacher-output cache; DEMO_EXTRA=--retrain_teacher
# trains a teacher afresh instead (12 epochs over the demo's images).
DEMO_FLAGS ?= --dataset=fashion_mnist --pretrained_teacher=fashion_mnist_resnet20 \
	--teacher=resnet20 --teacher_epochs=12 --student=resnet8 --student_width=8 \
	--method=kd --cache_draws=4 \
	--epochs=6 --train_limit=20000 --verbose=2
DEMO_EXTRA ?=
PYTEST_ARGS ?=
# Two test processes (pytest-xdist), one file per process at a time: about
# 1.5x faster on 2 cores than one process (tracing and data preparation are
# single-threaded). PYTEST_WORKERS=0 runs everything in this process.
PYTEST_WORKERS ?= 2

.PHONY: install data demo test clean

$(VENV)/.installed: setup.py constraints.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e ".[all]"
	touch $@

install: $(VENV)/.installed

data:
	@if [ ! -f $(FASHION_MNIST) ]; then \
		echo "Installing the Debian package dataset-fashion-mnist"; \
		$(SUDO) apt-get update -qq && \
		$(SUDO) apt-get install -y -qq dataset-fashion-mnist; \
	fi

demo: install data
	$(PY) -m kd_toolkit.train $(DEMO_FLAGS) $(DEMO_EXTRA) --out_dir=$(DEMO_DIR)
	$(PY) export/export_student.py --model=$(DEMO_DIR)/student.keras \
		--dataset=fashion_mnist --out_dir=$(DEMO_DIR)/export --overwrite \
		--size_basis=weights --report=full

test: install data
	$(PY) -m pytest -q -rs -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

clean:
	rm -rf runs build *.egg-info .pytest_cache
