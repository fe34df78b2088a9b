// lpg_attention: the attention unit of a GAT-family layer (KIND 0 gat, 1 sym-gat, 2 cos, 3 linear,
// 4 gene-linear); bit-exact with lpgnas.golden.softmax_trace. It runs as its own sequencer step between
// the layer's transform (whose linear buffer it reads) and aggregation (which reads the coefficients it
// writes into the per-edge coefficient RAM at e*HEADS + h, as it reads gcn's host coefficients).
//
// SCHEDULE (one step per cycle, nothing overlaps between phases):
//   Phase A, node scores: for w = n*HEADS + h < N*HEADS, one linear row (all F_OUT features) per cycle:
//     gat / sym-gat: src = requant(lin . att_src), dst = requant(lin . att_dst)     (2 x F_OUT multipliers)
//     linear:        tanh_table(requant(lin . att_src))                             (F_OUT multipliers)
//     cos / gene:    u_src[k] = requant(lin[k]*att_src[k]), u_dst[k] likewise       (2 x F_OUT multipliers)
//     written to the node-score RAM at w.   Cycles: N*HEADS + 3.
//   Phase B, per node i: 2 cycles (row_ptr[i+1]); per head h: 1 cycle (node i's own scores and the
//     head's attention vectors), then three passes over the CSR row (deg_i = its in-degree, self-loop
//     included), each deg_i issue cycles + 2 drain cycles, and the divider between passes 2 and 3:
//     pass 1: e_ij (col_idx[e] -> node-score RAM[j*HEADS+h] -> edge score), edge RAM[e] = e_ij, m_i = max
//             gat: leaky(dst_i + src_j); sym-gat: + leaky(dst_j + src_i); cos: requant(u_dst_i . u_src_j)
//             (F_OUT multipliers); linear: tanh(src_j) (from phase A); gene-linear:
//             requant(att_gene . tanh(u_dst_i + u_src_j)) (F_OUT table reads, F_OUT multipliers)
//     pass 2: p = exp_table(e_ij - m_i) (synchronous ROM, non-positive half only), edge RAM[e] = p, sum += p
//     divider: r_i = round(2^(FE+16) / sum), restoring, 1 + 17 cycles (one quotient bit per cycle)
//     pass 3: coef = requant(p * r_i) -> coefficient RAM[e*HEADS + h]            (one multiplier)
//   Cycles = (N*HEADS + 3) + 2 + N*2 + HEADS*(N*(1 + 3*2 + 18) + 3*E) + 2  (E with self-loops)
//          = N*HEADS + 3*HEADS*E + 25*HEADS*N + 2*N + 7  (see rtl_writer.attention_cycles).
//   Edge-pass pipeline depth 4 (issue -> col_idx / edge RAM data -> node RAM / exp ROM data -> edge
//   score / p -> write, max, sum); phase-A depth 3.
// MEMORIES: node-score RAM (lpg_ram, NODE_D = max_nodes*HEADS words of NF*FW bits: 2 scores (gat,
//   sym-gat), 1 (linear), 2*F_OUT scores (cos, gene-linear), SSW bits each); edge RAM (lpg_ram, EDGE_D =
//   max_edges words of max(ESW, XW) bits); attention-vector ROM (lpg_rom, HEADS words of NVEC*F_OUT*AW
//   bits: src, dst, gene from bit 0 up); exp ROM (lpg_rom, TLO+1 words of XW bits); tanh table
//   (lpg_att_lut, 2*TLO words of SW bits, linear: 1 read port, gene-linear: F_OUT read ports). The
//   coefficient RAM (max_edges*HEADS words of CW bits) is instantiated in the top level.
// Host ports: row_ptr / col_idx (shared with the aggregation units; only the active step drives them).
// Unsigned operands are zero-extended by one bit, so all arithmetic is signed.
// ce: the design's clock enable (ce = 0: no register, RAM, ROM or pipeline stage changes; reset still acts).
// lin_re: the linear buffer's read enable, high in the cycles whose row the unit uses in the next ce-cycle
// (phase A's issue cycles); the unit's own RAMs (node scores, edge scores) read whenever ce is high.
module lpg_attention #(
    parameter NW         = 8,     // width of num_nodes, node addresses, row_ptr addresses
    parameter EW         = 10,    // width of row_ptr words
    parameter EAW        = 10,    // edge address width (col_idx, edge RAM)
    parameter CIW        = 8,     // col_idx word width
    parameter LAW        = 8,     // linear buffer / node-score RAM address width
    parameter HEADS      = 1,
    parameter F_OUT      = 8,
    parameter LW         = 8,     // linear element width
    parameter L_SIGNED   = 1,
    parameter KIND       = 0,     // 0 gat, 1 sym-gat, 2 cos, 3 linear, 4 gene-linear
    parameter AW         = 8,     // attention-vector element width (signed fix)
    parameter NVEC       = 2,     // vectors per ROM word (src, dst, gene)
    parameter ATT_FILE   = "att.mem",
    parameter SW         = 8,     // score width
    parameter S_SIGNED   = 1,
    parameter NS_SHIFT   = 0,     // node scores: linear.frac + att_weight.frac - score.frac
    parameter DOT_W      = 24,    // node-score dot-product width
    parameter E_SHIFT    = 0,     // edge dot product: cos score.frac, gene-linear att_weight.frac
    parameter EDOT_W     = 24,    // edge dot-product width (cos, gene-linear)
    parameter TS         = 0,     // table index shift (lpgnas.tables.table_index(score.frac).shift)
    parameter TLO        = 256,   // -lo of the table index
    parameter TAW        = 9,     // tanh table address width (2*TLO entries)
    parameter TANH_FILE  = "tanh.mem",
    parameter XAW        = 9,     // exp ROM address width (TLO+1 entries)
    parameter EXP_FILE   = "exp.mem",
    parameter XW         = 8,     // exp width (unsigned, frac XW-1)
    parameter FE         = 7,     // exp frac
    parameter SUMW       = 20,    // exp sum width
    parameter CW         = 8,     // coefficient width
    parameter C_SIGNED   = 0,
    parameter COEF_SHIFT = 16,    // FE + 16 - coef.frac
    parameter CAW        = 12,    // coefficient RAM address width
    parameter NODE_D     = 256,   // node-score RAM depth (max_nodes * HEADS)
    parameter EDGE_D     = 2048,  // edge RAM depth (max_edges)
    parameter ROUND      = 1,
    parameter RECIP_MUT  = 0      // 1: reciprocal + 1 (mutation tests only)
) (
    input  wire                 clk,
    input  wire                 ce,
    input  wire                 rst,
    input  wire                 start,
    output reg                  done,
    input  wire [NW-1:0]        num_nodes,
    output wire [NW-1:0]        row_ptr_address,
    output wire                 row_ptr_ce,
    input  wire [EW-1:0]        row_ptr_q,
    output wire [EAW-1:0]       col_idx_address,
    output wire                 col_idx_ce,
    input  wire [CIW-1:0]       col_idx_q,
    output wire [LAW-1:0]       lin_raddr,
    output wire                 lin_re,
    input  wire [F_OUT*LW-1:0]  lin_rdata,
    output reg                  coef_we,
    output reg  [CAW-1:0]       coef_waddr,
    output reg  [CW-1:0]        coef_wdata
);
    localparam HW     = (HEADS > 1) ? $clog2(HEADS) : 1;
    localparam LSW    = LW + (L_SIGNED != 0 ? 0 : 1);
    localparam SSW    = SW + (S_SIGNED != 0 ? 0 : 1);
    localparam PW     = LSW + AW;                              // lin * att
    localparam VEC    = (KIND == 2 || KIND == 4) ? 1 : 0;      // element-wise node scores
    localparam FW     = (VEC != 0) ? F_OUT * SSW : SSW;        // one node-score field
    localparam NF     = (KIND == 3) ? 1 : 2;
    localparam NODE_W = NF * FW;
    localparam ESW    = SSW + 2;                               // edge score (sym-gat: two leaky sums)
    localparam DW     = ESW + 1;                               // e - m
    localparam EBW    = (ESW > XW) ? ESW : XW;                 // edge RAM word
    localparam ATW    = NVEC * F_OUT * AW;
    localparam QB     = 17;                                    // reciprocal bits (r <= 2^16)
    localparam PRW    = XW + QB + 1;                           // p * r, signed
    localparam NNW    = ((FE + 18 > SUMW + 1) ? FE + 18 : SUMW + 1) + 1;   // dividend 2^(FE+17) + sum
    localparam REMW   = SUMW + 2;
    localparam LKW    = SSW + 13;                              // leaky: q * 205 + 512
    localparam IXW0   = (DW > SSW + 1) ? DW : SSW + 1;
    localparam IXW    = (IXW0 > TAW + 2) ? IXW0 : TAW + 2;     // table index arithmetic

    localparam integer H_LAST_I  = HEADS - 1;
    localparam integer HEADS_I   = HEADS;
    localparam integer TLO_I     = TLO;
    localparam integer THI_I     = TLO - 1;
    localparam integer QB_I      = QB;
    localparam [HW-1:0]  H_LAST  = H_LAST_I[HW-1:0];
    localparam [LAW-1:0] HEADS_C = HEADS_I[LAW-1:0];
    localparam [CAW-1:0] HEADS_CC = HEADS_I[CAW-1:0];
    localparam integer NTLO_I    = -TLO;
    localparam signed [IXW-1:0] T_LO  = NTLO_I[IXW-1:0];
    localparam signed [IXW-1:0] T_HI  = THI_I[IXW-1:0];
    localparam signed [IXW-1:0] T_OFF = TLO_I[IXW-1:0];
    localparam [5:0] QB_C = QB_I[5:0];

    // ---- controller -------------------------------------------------------------------------------------
    localparam S_IDLE = 4'd0, S_A = 4'd1, S_AW = 4'd2, S_INIT0 = 4'd3, S_INIT1 = 4'd4, S_RP = 4'd5,
               S_RPW = 4'd6, S_PRE = 4'd7, S_P = 4'd8, S_W = 4'd9, S_DIV0 = 4'd10, S_DIV = 4'd11,
               S_FIN = 4'd12;
    reg [3:0]      state;
    reg [1:0]      pass;
    reg [NW-1:0]   na, i;
    reg [HW-1:0]   ha, h;
    reg [LAW-1:0]  wa;
    reg [EW-1:0]   e, e_lo, e_hi;
    reg [5:0]      dk;
    reg            cap;

    wire issue_a = (state == S_A);
    wire issue   = (state == S_P);
    wire last_e  = (e == e_hi - 1'b1);
    wire last_i  = (i == num_nodes - 1'b1);
    wire busy12;

    // divider state
    reg  [SUMW-1:0] sum;
    reg  [REMW-1:0] rem;
    reg  [QB-1:0]   nlow, quo;
    wire [REMW:0]   dv   = {2'b00, sum, 1'b0};                // 2 * sum
    wire [REMW:0]   trem = {rem, nlow[QB-1]};
    wire            ge   = (trem >= dv);
    // Lint waiver: the difference is < 2 * sum, its top bit is zero.
    /* verilator lint_off UNUSEDSIGNAL */
    wire [REMW:0]   tsub = trem - dv;
    /* verilator lint_on UNUSEDSIGNAL */
    wire [NNW-1:0]  one_n = {{(NNW-1){1'b0}}, 1'b1};
    wire [NNW-1:0]  nn    = (one_n << (FE + 17)) + {{(NNW-SUMW){1'b0}}, sum};
    // Lint waiver: nn's top bits are zero (rem = nn >> QB < 2 * sum always).
    /* verilator lint_off UNUSEDSIGNAL */
    wire [NNW-1:0]  nn_hi = nn >> QB;
    /* verilator lint_on UNUSEDSIGNAL */

    wire adv = ce | rst;   // registers with an inline reset advance in ce-cycles and on reset

    always @(posedge clk) begin
        if (rst) begin
            state <= S_IDLE;
            cap <= 1'b0;
        end else if (ce) begin
            cap <= (state == S_PRE);
            case (state)
                S_IDLE: if (start) begin
                    na <= {NW{1'b0}}; ha <= {HW{1'b0}}; wa <= {LAW{1'b0}};
                    state <= (num_nodes != {NW{1'b0}}) ? S_A : S_FIN;
                end
                S_A: begin
                    wa <= wa + 1'b1;
                    if (ha != H_LAST) ha <= ha + 1'b1;
                    else begin
                        ha <= {HW{1'b0}};
                        na <= na + 1'b1;
                        if (na == num_nodes - 1'b1) state <= S_AW;
                    end
                end
                S_AW: if (!busy12) state <= S_INIT0;
                S_INIT0: begin i <= {NW{1'b0}}; state <= S_INIT1; end
                S_INIT1: begin e_hi <= row_ptr_q; state <= S_RP; end
                S_RP: begin e_lo <= e_hi; state <= S_RPW; end
                S_RPW: begin e_hi <= row_ptr_q; h <= {HW{1'b0}}; state <= S_PRE; end
                S_PRE: begin e <= e_lo; pass <= 2'd1; state <= S_P; end
                S_P: begin
                    if (last_e) state <= S_W;
                    else e <= e + 1'b1;
                end
                S_W: if (!busy12) begin
                    e <= e_lo;
                    if (pass == 2'd1) begin pass <= 2'd2; state <= S_P; end
                    else if (pass == 2'd2) state <= S_DIV0;
                    else if (h != H_LAST) begin h <= h + 1'b1; state <= S_PRE; end
                    else if (!last_i) begin i <= i + 1'b1; state <= S_RP; end
                    else state <= S_FIN;
                end
                S_DIV0: begin
                    rem <= nn_hi[REMW-1:0];
                    nlow <= nn[QB-1:0];
                    quo <= {QB{1'b0}};
                    dk <= QB_C;
                    state <= S_DIV;
                end
                S_DIV: begin
                    rem <= ge ? tsub[REMW-1:0] : trem[REMW-1:0];
                    quo <= {quo[QB-2:0], ge};
                    nlow <= {nlow[QB-2:0], 1'b0};
                    dk <= dk - 1'b1;
                    if (dk == 6'd1) begin pass <= 2'd3; state <= S_P; end
                end
                S_FIN: state <= S_IDLE;
                default: state <= S_IDLE;
            endcase
        end
    end
    always @(posedge clk) if (adv) done <= ~rst & (state == S_FIN);

    wire [QB-1:0] recip = (RECIP_MUT != 0) ? quo + 1'b1 : quo;

    // host CSR ports (row_ptr words are edge offsets)
    wire [NW-1:0] i_p1 = i + 1'b1;
    assign row_ptr_address = (state == S_INIT0) ? {NW{1'b0}} : i_p1;
    assign row_ptr_ce      = (state == S_INIT0) | (state == S_RP);
    assign col_idx_address = e[EAW-1:0];
    assign col_idx_ce      = issue & (pass == 2'd1);

    // ---- memories -----------------------------------------------------------------------------------------
    wire [NODE_W-1:0] nd_rdata;
    reg               nd_we;
    reg  [LAW-1:0]    nd_waddr;
    reg  [NODE_W-1:0] nd_wdata;
    wire [LAW-1:0]    nd_raddr;
    lpg_ram #(.W(NODE_W), .D(NODE_D), .AW(LAW)) u_node (
        .clk(clk), .ce(ce), .we(nd_we), .waddr(nd_waddr), .wdata(nd_wdata), .raddr(nd_raddr), .re(1'b1),
        .rdata(nd_rdata));

    wire [EBW-1:0] eb_rdata;
    reg            eb_we;
    reg  [EAW-1:0] eb_waddr;
    reg  [EBW-1:0] eb_wdata;
    lpg_ram #(.W(EBW), .D(EDGE_D), .AW(EAW)) u_edge (
        .clk(clk), .ce(ce), .we(eb_we), .waddr(eb_waddr), .wdata(eb_wdata), .raddr(e[EAW-1:0]), .re(1'b1),
        .rdata(eb_rdata));

    wire [ATW-1:0] att_q;
    lpg_rom #(.W(ATW), .D(HEADS), .AW(HW), .INIT_FILE(ATT_FILE)) u_att (
        .clk(clk), .ce(ce), .addr(issue_a ? ha : h), .q(att_q));

    wire [XAW-1:0] x_addr;
    wire [XW-1:0]  x_q;
    lpg_rom #(.W(XW), .D(TLO + 1), .AW(XAW), .INIT_FILE(EXP_FILE)) u_exp (.clk(clk), .ce(ce), .addr(x_addr), .q(x_q));

    assign lin_raddr = wa;
    assign lin_re    = issue_a;

    // table index of a score-format value (lpgnas.tables.table_index): clamp(q >>> TS, -TLO, TLO-1) + TLO
    function [TAW-1:0] tab_idx;
        input signed [IXW-1:0] q;
        reg signed [IXW-1:0] s, t;
        begin
            s = q >>> TS;
            t = (s < T_LO) ? T_LO : (s > T_HI) ? T_HI : s;
            t = t + T_OFF;
            tab_idx = t[TAW-1:0];
        end
    endfunction

    // GAT's LeakyReLU, slope 205/1024, rounded half up (lpgnas.tables.leaky)
    localparam integer LK_SLOPE_I = 205, LK_HALF_I = 512;
    localparam signed [LKW-1:0] LK_SLOPE = LK_SLOPE_I[LKW-1:0];
    localparam signed [LKW-1:0] LK_HALF  = LK_HALF_I[LKW-1:0];
    function signed [ESW-1:0] leaky;
        input signed [SSW:0] q;
        reg signed [LKW-1:0] t;
        begin
            t = {{(LKW-SSW-1){q[SSW]}}, q};
            t = (t * LK_SLOPE + LK_HALF) >>> 10;
            leaky = q[SSW] ? t[ESW-1:0] : {{(ESW-SSW-1){q[SSW]}}, q};
        end
    endfunction

    // ---- phase A: node scores (issue -> lin row + att vectors -> node-score RAM write) ---------------------
    reg            a1;
    reg [LAW-1:0]  w1;
    always @(posedge clk) if (adv) begin
        a1 <= issue_a & ~rst;
        w1 <= wa;
    end
    wire [NODE_W-1:0] a_word;
    // dot-product chains lin . att_src / att_dst (used by gat, sym-gat, linear)
    // Lint waiver: the element-wise kinds and linear (dst) leave chains unused.
    /* verilator lint_off UNUSEDSIGNAL */
    wire [(F_OUT+1)*DOT_W-1:0] cs, cd;
    /* verilator lint_on UNUSEDSIGNAL */
    assign cs[DOT_W-1:0] = {DOT_W{1'b0}};
    assign cd[DOT_W-1:0] = {DOT_W{1'b0}};
    genvar k;
    generate
        for (k = 0; k < F_OUT; k = k + 1) begin : g_a
            wire [LW-1:0]         l   = lin_rdata[k*LW +: LW];
            wire signed [PW-1:0]  l_e = (L_SIGNED != 0) ? {{(PW-LW){l[LW-1]}}, l} : {{(PW-LW){1'b0}}, l};
            wire signed [AW-1:0]  as  = att_q[k*AW +: AW];
            wire signed [PW-1:0]  ps  = l_e * {{(PW-AW){as[AW-1]}}, as};
            wire signed [PW-1:0]  pd;
            if (KIND != 3) begin : g_dst
                wire signed [AW-1:0] ad = att_q[(F_OUT + k)*AW +: AW];
                assign pd = l_e * {{(PW-AW){ad[AW-1]}}, ad};
            end else begin : g_nodst
                assign pd = {PW{1'b0}};
            end
            wire signed [DOT_W-1:0] s0 = cs[k*DOT_W +: DOT_W];
            wire signed [DOT_W-1:0] d0 = cd[k*DOT_W +: DOT_W];
            assign cs[(k+1)*DOT_W +: DOT_W] = s0 + {{(DOT_W-PW){ps[PW-1]}}, ps};
            assign cd[(k+1)*DOT_W +: DOT_W] = d0 + {{(DOT_W-PW){pd[PW-1]}}, pd};
            if (VEC != 0) begin : g_vec
                wire [SW-1:0] us, ud;
                lpg_requant #(.IN_W(PW), .SHIFT(NS_SHIFT), .OUT_W(SW), .OUT_SIGNED(S_SIGNED), .ROUND(ROUND)) u_rs (
                    .d(ps), .q(us));
                lpg_requant #(.IN_W(PW), .SHIFT(NS_SHIFT), .OUT_W(SW), .OUT_SIGNED(S_SIGNED), .ROUND(ROUND)) u_rd (
                    .d(pd), .q(ud));
                assign a_word[k*SSW +: SSW]          = (S_SIGNED != 0) ? {{(SSW-SW){us[SW-1]}}, us} : {{(SSW-SW){1'b0}}, us};
                assign a_word[FW + k*SSW +: SSW]     = (S_SIGNED != 0) ? {{(SSW-SW){ud[SW-1]}}, ud} : {{(SSW-SW){1'b0}}, ud};
            end
        end
        if (VEC == 0) begin : g_dot
            // Lint waiver: linear has no dst score.
            /* verilator lint_off UNUSEDSIGNAL */
            wire [SW-1:0] src, dst;
            lpg_requant #(.IN_W(DOT_W), .SHIFT(NS_SHIFT), .OUT_W(SW), .OUT_SIGNED(S_SIGNED), .ROUND(ROUND)) u_rs (
                .d(cs[F_OUT*DOT_W +: DOT_W]), .q(src));
            lpg_requant #(.IN_W(DOT_W), .SHIFT(NS_SHIFT), .OUT_W(SW), .OUT_SIGNED(S_SIGNED), .ROUND(ROUND)) u_rd (
                .d(cd[F_OUT*DOT_W +: DOT_W]), .q(dst));
            wire [SSW-1:0] src_e = (S_SIGNED != 0) ? {{(SSW-SW){src[SW-1]}}, src} : {{(SSW-SW){1'b0}}, src};
            wire [SSW-1:0] dst_e = (S_SIGNED != 0) ? {{(SSW-SW){dst[SW-1]}}, dst} : {{(SSW-SW){1'b0}}, dst};
            /* verilator lint_on UNUSEDSIGNAL */
            if (KIND == 3) begin : g_lin
                wire [SW-1:0] t;
                wire [IXW-1:0] src_x = {{(IXW-SSW){src_e[SSW-1]}}, src_e};
                lpg_att_lut #(.W(SW), .D(2 * TLO), .AW(TAW), .N(1), .INIT_FILE(TANH_FILE)) u_tanh (
                    .addr(tab_idx(src_x)), .q(t));
                assign a_word = (S_SIGNED != 0) ? {{(SSW-SW){t[SW-1]}}, t} : {{(SSW-SW){1'b0}}, t};
            end else begin : g_gat
                assign a_word = {dst_e, src_e};
            end
        end
    endgenerate
    always @(posedge clk) if (adv) begin
        nd_we <= a1 & ~rst;
        nd_waddr <= w1;
        nd_wdata <= a_word;
    end

    // ---- phase B: edge passes ------------------------------------------------------------------------------
    // node i's own word and the head's attention vectors, captured the cycle after S_PRE
    reg [NODE_W-1:0] self_w;
    // Lint waiver: only gene-linear reads the gene vector from the captured attention word.
    /* verilator lint_off UNUSEDSIGNAL */
    reg [ATW-1:0]    self_att;
    /* verilator lint_on UNUSEDSIGNAL */
    always @(posedge clk) if (ce && cap) begin self_w <= nd_rdata; self_att <= att_q; end

    // stage 1: col_idx / edge RAM data
    reg           v1, f1;
    reg [1:0]     p1;
    reg [EAW-1:0] e1;
    always @(posedge clk) if (adv) begin
        v1 <= issue & ~rst;
        p1 <= pass; e1 <= e[EAW-1:0]; f1 <= (e == e_lo);
    end
    wire [LAW-1:0] col_e = {{(LAW-CIW){1'b0}}, col_idx_q};
    wire [LAW-1:0] h_e   = {{(LAW-HW){1'b0}}, h};
    wire [LAW-1:0] nd_raddr_b = col_e * HEADS_C + h_e;
    wire [LAW-1:0] i_e   = {{(LAW-NW){1'b0}}, i};
    assign nd_raddr = (state == S_PRE) ? i_e * HEADS_C + h_e : nd_raddr_b;

    reg  signed [ESW-1:0] m;
    wire signed [ESW-1:0] eb_s = eb_rdata[ESW-1:0];
    wire signed [DW-1:0]  dd   = {eb_s[ESW-1], eb_s} - {m[ESW-1], m};
    wire [IXW-1:0]        dd_x = {{(IXW-DW){dd[DW-1]}}, dd};
    // Lint waiver: d <= 0, so the entry is in [0, TLO] and fits XAW bits.
    /* verilator lint_off UNUSEDSIGNAL */
    wire [TAW-1:0]        x_full = tab_idx(dd_x);
    /* verilator lint_on UNUSEDSIGNAL */
    assign x_addr = x_full[XAW-1:0];
    wire [XW-1:0] p_rd = eb_rdata[XW-1:0];
    wire signed [PRW-1:0] p_ext  = {{(PRW-XW){1'b0}}, p_rd};
    wire signed [PRW-1:0] r_ext  = {{(PRW-QB){1'b0}}, recip};
    wire signed [PRW-1:0] prod_c = p_ext * r_ext;

    // stage 2: node RAM / exp ROM data; p * r registered
    reg           v2, f2;
    reg [1:0]     p2;
    reg [EAW-1:0] e2;
    reg signed [PRW-1:0] prod2;
    always @(posedge clk) if (adv) begin
        v2 <= v1 & ~rst;
        p2 <= p1; e2 <= e1; f2 <= f1;
        prod2 <= prod_c;
    end
    assign busy12 = v1 | v2 | a1;

    // edge score e_ij from node i's word (self_w) and node j's word (nd_rdata)
    wire signed [ESW-1:0] esc;
    generate
        if (KIND == 0 || KIND == 1) begin : g_e_gat
            wire signed [SSW-1:0] src_j = nd_rdata[SSW-1:0];
            wire signed [SSW-1:0] dst_i = self_w[FW +: SSW];
            wire signed [SSW:0]   s1    = {dst_i[SSW-1], dst_i} + {src_j[SSW-1], src_j};
            if (KIND == 0) begin : g_g
                // Lint waiver: gat reads node i's dst and node j's src only.
                /* verilator lint_off UNUSEDSIGNAL */
                wire [NODE_W-1:0] unused_w = self_w ^ nd_rdata;
                /* verilator lint_on UNUSEDSIGNAL */
                assign esc = leaky(s1);
            end else begin : g_s
                wire signed [SSW-1:0] dst_j = nd_rdata[FW +: SSW];
                wire signed [SSW-1:0] src_i = self_w[SSW-1:0];
                wire signed [SSW:0]   s2    = {dst_j[SSW-1], dst_j} + {src_i[SSW-1], src_i};
                assign esc = leaky(s1) + leaky(s2);
            end
        end else if (KIND == 3) begin : g_e_lin
            // Lint waiver: linear's score depends on node j only.
            /* verilator lint_off UNUSEDSIGNAL */
            wire [NODE_W-1:0] unused_w = self_w;
            /* verilator lint_on UNUSEDSIGNAL */
            wire signed [SSW-1:0] t_j = nd_rdata[SSW-1:0];
            assign esc = {{(ESW-SSW){t_j[SSW-1]}}, t_j};
        end else begin : g_e_vec
            // Lint waiver: the element-wise kinds read node i's u_dst and node j's u_src only.
            /* verilator lint_off UNUSEDSIGNAL */
            wire [NODE_W-1:0] unused_w = self_w ^ nd_rdata;
            /* verilator lint_on UNUSEDSIGNAL */
            localparam EPW = (KIND == 2) ? 2 * SSW : SSW + AW;
            wire [(F_OUT+1)*EDOT_W-1:0] ch;
            assign ch[EDOT_W-1:0] = {EDOT_W{1'b0}};
            for (k = 0; k < F_OUT; k = k + 1) begin : g_ek
                wire signed [SSW-1:0] ud = self_w[FW + k*SSW +: SSW];
                wire signed [SSW-1:0] us = nd_rdata[k*SSW +: SSW];
                wire signed [EPW-1:0] pr;
                if (KIND == 2) begin : g_cos
                    assign pr = {{(EPW-SSW){ud[SSW-1]}}, ud} * {{(EPW-SSW){us[SSW-1]}}, us};
                end else begin : g_gene
                    wire signed [SSW:0] q = {ud[SSW-1], ud} + {us[SSW-1], us};
                    wire [IXW-1:0] q_x = {{(IXW-SSW-1){q[SSW]}}, q};
                    wire [SW-1:0]  t;
                    lpg_att_lut #(.W(SW), .D(2 * TLO), .AW(TAW), .N(1), .INIT_FILE(TANH_FILE)) u_tanh (
                        .addr(tab_idx(q_x)), .q(t));
                    wire signed [SSW-1:0] t_e = (S_SIGNED != 0) ? {{(SSW-SW){t[SW-1]}}, t} : {{(SSW-SW){1'b0}}, t};
                    wire signed [AW-1:0]  g   = self_att[(2*F_OUT + k)*AW +: AW];
                    assign pr = {{(EPW-SSW){t_e[SSW-1]}}, t_e} * {{(EPW-AW){g[AW-1]}}, g};
                end
                wire signed [EDOT_W-1:0] c0 = ch[k*EDOT_W +: EDOT_W];
                assign ch[(k+1)*EDOT_W +: EDOT_W] = c0 + {{(EDOT_W-EPW){pr[EPW-1]}}, pr};
            end
            wire [SW-1:0] es;
            lpg_requant #(.IN_W(EDOT_W), .SHIFT(E_SHIFT), .OUT_W(SW), .OUT_SIGNED(S_SIGNED), .ROUND(ROUND)) u_re (
                .d(ch[F_OUT*EDOT_W +: EDOT_W]), .q(es));
            assign esc = (S_SIGNED != 0) ? {{(ESW-SW){es[SW-1]}}, es} : {{(ESW-SW){1'b0}}, es};
        end
    endgenerate

    // coefficient: requant(p * r, FE + 16 -> coef)
    wire [CW-1:0] coef_c;
    lpg_requant #(.IN_W(PRW), .SHIFT(COEF_SHIFT), .OUT_W(CW), .OUT_SIGNED(C_SIGNED), .ROUND(ROUND)) u_coef (
        .d(prod2), .q(coef_c));
    wire [CAW-1:0] e2_c = {{(CAW-EAW){1'b0}}, e2};
    wire [CAW-1:0] h_c  = {{(CAW-HW){1'b0}}, h};

    // stage 3: edge RAM write (pass 1: e_ij, pass 2: p), max, sum; coefficient write (pass 3)
    reg           v3, f3;
    reg [1:0]     p3;
    reg signed [ESW-1:0] sc3;
    reg [XW-1:0]  px3;
    always @(posedge clk) if (adv) begin
        v3 <= v2 & ~rst;
        p3 <= p2; f3 <= f2; sc3 <= esc; px3 <= x_q;
        eb_waddr <= e2;
        coef_we <= v2 & (p2 == 2'd3) & ~rst;
        coef_waddr <= e2_c * HEADS_CC + h_c;
        coef_wdata <= coef_c;
    end
    always @(*) begin
        eb_we = v3 & (p3 != 2'd3);
        eb_wdata = (p3 == 2'd1) ? {{(EBW-ESW){sc3[ESW-1]}}, sc3} : {{(EBW-XW){1'b0}}, px3};
    end
    always @(posedge clk) if (ce) begin
        if (v3 && p3 == 2'd1) m <= (f3 || sc3 > m) ? sc3 : m;
        if (v3 && p3 == 2'd2) sum <= f3 ? {{(SUMW-XW){1'b0}}, px3} : sum + {{(SUMW-XW){1'b0}}, px3};
    end
endmodule
