rule train:
    """Train every seed of one cell as batched ensembles (resumes from .partial/ if interrupted)."""
    output:
        metrics=f"{RESULTS}/runs/{{cell}}/metrics.parquet",
        config=f"{RESULTS}/runs/{{cell}}/config.json",
        checkpoint=f"{RESULTS}/runs/{{cell}}/final.pt",
    conda:
        "../envs/groklab.yaml"
    log:
        f"{RESULTS}/logs/train/{{cell}}.log",
    params:
        cell=get_cell_record,
    threads: 1
    resources:
        mem_mb=2048,
    script:
        "../scripts/train.py"
