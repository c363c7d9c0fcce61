import json,sys
exp=json.load(open('files/expected.json'))
F=['title','artist','album','genre','track','year']
def short(v):
    if isinstance(v,str) and len(v)>40: return v[:12]+f'…({len(v)} chars)'
    return v
rows=[json.loads(l) for l in open('results.jsonl')]
score={'ours':0,'lofty':0}; total=0
print('| file | field | expected | songrec (tags.rs) | lofty 0.25 |'); print('|---|---|---|---|---|')
for r in rows:
    e=exp.get(r['file'],{}); o=r['songrec_decode_file']; l=r['lofty']
    for k in F:
        ev=short(e.get(k)); ov=o.get(k) if 'error' not in o else 'ERR'; lv=l.get(k) if 'error' not in l else 'ERR'
        total+=1; score['ours']+= ov==ev; score['lofty']+= lv==ev
        if ov!=ev or lv!=ev:
            print(f"| {r['file']} | {k} | {ev!r} | {ov!r}{'' if ov==ev else ' ✗'} | {lv!r}{'' if lv==ev else ' ✗'} |")
    if 'error' in o: print(f"| {r['file']} | (error) | | {o['error'][:80]} | |")
    if 'error' in l: print(f"| {r['file']} | (error) | | | {l['error'][:80]} |")
print(); print('fields matching expected:', score, 'of', total)
print(); print('| file | bytes | songrec tags-only µs | lofty µs | lofty no-props µs | songrec decode_file µs | fields ok songrec/lofty |'); print('|---|---:|---:|---:|---:|---:|---|')
for r in rows:
    e=exp.get(r['file'],{}); o=r['songrec_decode_file']; l=r['lofty']
    so=sum((o.get(k) if 'error' not in o else 'ERR')==short(e.get(k)) for k in F); sl=sum((l.get(k) if 'error' not in l else 'ERR')==short(e.get(k)) for k in F)
    print(f"| {r['file']} | {r['bytes']} | {r['us_ours_tags_only']:.0f} | {r['us_lofty']:.0f} | {r['us_lofty_noprops']:.0f} | {r['us_songrec_decode_file']:.0f} | {so}/6 vs {sl}/6 |")
print('\nsanity: tags-only replica == decode_file tags on all files:', all(r['ours_tags_only_equals_decode'] for r in rows), '; lofty no-props same result:', all(r['lofty_noprops_same'] for r in rows))
import statistics as st
for k in ['us_ours_tags_only','us_lofty','us_lofty_noprops','us_songrec_decode_file']:
    print(k,'median over files', round(st.median(r[k] for r in rows)), 'sum', round(sum(r[k] for r in rows)))
