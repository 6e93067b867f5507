"""The method: stage 1 (isolated models), stage 2 (pairwise sweep of shared depth), stage 3
(tree from the compatibility depths), and the pipeline that runs them and the compared methods."""
