-- The query benchmark's suite: typical pharmaco-epidemiology questions over a
-- synthetic SNDS (scripts/bench-queries). One query per block, named by its first
-- comment line. Answers are aggregates, so Bastide (project pseudonyms), raw
-- DataFusion and DuckDB must give the same rows.

-- claims and amounts by month and sex
SELECT EXTRACT(YEAR FROM exe_soi_dtd) AS y, EXTRACT(MONTH FROM exe_soi_dtd) AS m, ben_sex_cod, count(*) AS n, ROUND(SUM(prs_pai_mnt), 2) AS paid
FROM er_prs_f GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;

-- beneficiaries by age band and sex
SELECT (2023 - CAST(ben_nai_ann AS INT)) - (2023 - CAST(ben_nai_ann AS INT)) % 10 AS band, ben_sex_cod, count(*) AS n
FROM ir_ben_r GROUP BY 1, 2 ORDER BY 1, 2;

-- claims and patients by age band
SELECT (2023 - CAST(b.ben_nai_ann AS INT)) - (2023 - CAST(b.ben_nai_ann AS INT)) % 10 AS band, count(*) AS claims, count(DISTINCT c.ben_nir_psa) AS patients
FROM er_prs_f c JOIN ir_ben_r b ON c.ben_nir_psa = b.ben_nir_psa GROUP BY 1 ORDER BY 1;

-- statin exposure cohort: dispensed lines, patients, by sex
SELECT c.ben_sex_cod, count(*) AS lines, count(DISTINCT c.ben_nir_psa) AS patients
FROM er_pha_f p
JOIN ir_pha_r r ON p.pha_prs_c13 = r.pha_cip_c13
JOIN er_prs_f c ON p.dct_ord_num = c.dct_ord_num AND p.flx_dis_dtd = c.flx_dis_dtd
  AND p.flx_emt_num = c.flx_emt_num AND p.flx_emt_ord = c.flx_emt_ord AND p.flx_emt_typ = c.flx_emt_typ
  AND p.flx_trt_dtd = c.flx_trt_dtd AND p.org_cle_num = c.org_cle_num AND p.prs_ord_num = c.prs_ord_num
  AND p.rem_typ_aff = c.rem_typ_aff
WHERE r.pha_atc_c07 LIKE 'C10AA%'
GROUP BY 1 ORDER BY 1;

-- top drugs by ATC class
SELECT r.pha_atc_c03 AS atc, count(*) AS lines, SUM(p.pha_act_qsn) AS boxes
FROM er_pha_f p JOIN ir_pha_r r ON p.pha_prs_c13 = r.pha_cip_c13
GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 20;

-- hospital stays and their length by diagnosis chapter
SELECT substr(dgn_pal, 1, 1) AS chapter, count(*) AS stays, ROUND(AVG(sej_nbj), 2) AS mean_days
FROM t_mcoaab GROUP BY 1 ORDER BY 1;

-- top principal diagnoses
SELECT dgn_pal, count(*) AS stays FROM t_mcoaab GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 20;

-- stays joined with claims: patients with a claim within 30 days after discharge
SELECT count(DISTINCT s.nir_ano_17) AS patients
FROM t_mcoaac s JOIN er_prs_f c ON c.ben_nir_psa = s.nir_ano_17
WHERE c.exe_soi_dtd >= CAST(s.exe_soi_dtf AS DATE) AND c.exe_soi_dtd <= CAST(s.exe_soi_dtf AS DATE) + INTERVAL '30 days';

-- deaths within 30 days of a discharge
SELECT count(DISTINCT s.nir_ano_17) AS patients
FROM t_mcoaac s JOIN ir_ben_r b ON b.ben_nir_psa = s.nir_ano_17
WHERE b.ben_dcd_dte >= CAST(s.exe_soi_dtf AS DATE) AND b.ben_dcd_dte <= CAST(s.exe_soi_dtf AS DATE) + INTERVAL '30 days';

-- stays by diagnosis and age band
SELECT substr(m.dgn_pal, 1, 1) AS chapter, (2023 - CAST(b.ben_nai_ann AS INT)) - (2023 - CAST(b.ben_nai_ann AS INT)) % 10 AS band, count(*) AS stays
FROM t_mcoaab m
JOIN t_mcoaac s ON s.eta_num = m.eta_num AND s.rsa_num = m.rsa_num
JOIN ir_ben_r b ON b.ben_nir_psa = s.nir_ano_17
GROUP BY 1, 2 ORDER BY 1, 2;

-- costs per patient: distribution of yearly amounts paid
SELECT count(*) AS patients, ROUND(AVG(total), 2) AS mean, ROUND(MAX(total), 2) AS highest
FROM (SELECT ben_nir_psa, SUM(prs_pai_mnt) AS total FROM er_prs_f GROUP BY 1) t;

-- causes of death by sex
SELECT ben_sex_cod, substr(dcd_cim_cod, 1, 3) AS cause, count(*) AS deaths
FROM ki_cci_r GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2 LIMIT 20;
