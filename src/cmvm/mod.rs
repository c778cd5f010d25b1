//! STUB (replaced by the real module on merge).
use crate::ir::Matrix;
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operand { Input(usize), Adder(usize) }
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Term { pub op: Operand, pub neg: bool }
#[derive(Clone, Copy, Debug)]
pub struct Adder { pub a: Term, pub b: Term }
pub struct Graph { pub n_in: usize, pub adders: Vec<Adder>, pub outputs: Vec<Option<Term>> }
#[derive(Default)]
pub struct Options { pub max_extra_depth: Option<u32> }
pub fn plain(w: &Matrix<i8>) -> Graph {
    let mut adders = Vec::new();
    let outputs = (0..w.rows).map(|n| {
        let mut terms: Vec<Term> = w.row(n).iter().enumerate().filter(|(_, &v)| v != 0)
            .map(|(k, &v)| Term { op: Operand::Input(k), neg: v < 0 }).collect();
        if terms.is_empty() { return None; }
        while terms.len() > 1 {
            let mut next = Vec::new();
            for c in terms.chunks(2) {
                if c.len() == 2 { adders.push(Adder { a: c[0], b: c[1] }); next.push(Term { op: Operand::Adder(adders.len() - 1), neg: false }); } else { next.push(c[0]); }
            }
            terms = next;
        }
        Some(terms[0])
    }).collect();
    Graph { n_in: w.cols, adders, outputs }
}
pub fn shared(w: &Matrix<i8>, _o: &Options) -> Graph { plain(w) }
