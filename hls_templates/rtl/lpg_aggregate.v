// lpg_aggregate: the edge / aggregation unit of one layer, with its finaliser.
// A CSR walker reads row_ptr / col_idx (and per-edge coefficients) from the host buffers and
// accumulates coef * lin[col] over each node's in-edges, P_AGG feature lanes per cycle:
//   for i < num_nodes, for h < HEADS, for e in row i, for fg < FG:  acc[fg] += coef[e] * lin[col[e], h, fg]
// (AGG_MAX: acc[fg] = max(acc[fg], coef[e] * lin[...]), the first edge of a row loads its product), then, per
// head (concat) or once after all heads (mean of heads; MAX: the heads' maxima are summed), FG finalise
// steps: mean aggregation: * recip[i]; mean of heads: * HEADREC; + bias << BIAS_SHIFT;
//   requant -> aggregation format; activation (lpg_act: ACT); requant -> output format.
// Cycles: (E * HEADS + N * (HEADS if concat else 1)) * FG + 3 per run (+ pipeline depth 7),
// E counting self-loops. Accumulators form a ring of FG groups that rotates by one group per step,
// so group fg is always at the head when its step arrives (no wide multiplexer).
// The output row (all heads, all features) is written to the layer-output buffer at address i;
// rows_written counts the rows written since start (a follower reads row n once n < rows_written).
// Unsigned operands are zero-extended by one bit, so all arithmetic is signed.
// ce: the design's clock enable (ce = 0: no register, ROM or pipeline stage changes; reset still acts).
// lin_re: the linear buffer's read enable, high in the cycles whose row the unit uses in the next ce-cycle
// (edge steps; not the finalise steps).
module lpg_aggregate #(
    parameter NW         = 8,     // width of num_nodes, node addresses and row_ptr addresses
    parameter EW         = 10,    // width of row_ptr words (edge counts)
    parameter EAW        = 10,    // edge address width (col_idx, coef)
    parameter RAW        = 8,     // recip address width (<= NW)
    parameter CIW        = 8,     // col_idx word width
    parameter LAW        = 8,     // linear buffer address width
    parameter LW         = 8,     // linear element width
    parameter L_SIGNED   = 1,
    parameter F_OUT      = 8,
    parameter P_AGG      = 4,
    parameter FG         = 2,
    parameter HEADS      = 1,
    parameter CONCAT     = 1,
    parameter HAS_COEF   = 0,
    parameter CW         = 8,
    parameter C_SIGNED   = 0,
    parameter HAS_RECIP  = 0,
    parameter RW         = 17,
    parameter R_SIGNED   = 0,
    parameter HEAD_MEAN  = 0,
    parameter HEADREC    = 0,
    parameter HAS_BIAS   = 0,
    parameter BW         = 8,     // bias width (two's complement)
    parameter BIAS_SHIFT = 0,
    parameter BIAS_FILE  = "b.mem",
    parameter PRW        = 16,    // product width (lin * coef)
    parameter ACC_W      = 24,
    parameter M_W        = 24,    // after the mean reciprocal
    parameter V_W        = 26,    // after head mean and bias
    parameter AGG_SHIFT  = 0,
    parameter AGG_W      = 8,
    parameter AGG_SIGNED = 1,
    parameter AGG_MAX    = 0,     // 1: max aggregation (element-wise maximum instead of sum)
    parameter ACT        = 1,     // activation: its position in lpgnas.operators.ACTIVATIONS (lpg_act.v)
    parameter LEAKY      = 10,    // leaky_relu slope code, binary point LEAKY_FRAC
    parameter LEAKY_FRAC = 10,
    parameter R6MAX      = 0,     // relu6: the code of 6.0 (capped at the largest code)
    parameter TSHIFT     = 0,     // table activations: index = clamp(q >>> TSHIFT, -2^THB, 2^THB - 1) + 2^THB
    parameter THB        = 8,
    parameter TD         = 512,   // table words (2^(THB+1), or 2^THB for elu's negative half)
    parameter TABLE_FILE = "table.mem",
    parameter OUT_SHIFT  = 0,
    parameter OW         = 8,
    parameter O_SIGNED   = 1,
    parameter ROUND      = 1,
    parameter CSR_MUT    = 0,     // 1: drop each row's last edge (mutation tests only)
    parameter STALL_MUT  = 0      // 1: the accumulator ring ignores ce (mutation tests only: stall_leak)
) (
    input  wire                         clk,
    input  wire                         ce,
    input  wire                         rst,
    input  wire                         start,
    output reg                          done,
    input  wire [NW-1:0]                num_nodes,
    output wire [NW-1:0]                row_ptr_address,
    output wire                         row_ptr_ce,
    input  wire [EW-1:0]                row_ptr_q,
    output wire [EAW-1:0]               col_idx_address,
    output wire                         col_idx_ce,
    input  wire [CIW-1:0]               col_idx_q,
    // Lint waiver: coef / recip ports exist on every instance; layers without them leave them unused.
    /* verilator lint_off UNUSEDSIGNAL */
    output wire [EAW-1:0]               coef_address,
    output wire [((HEADS > 1) ? $clog2(HEADS) : 1)-1:0] coef_head,   // head of coef_address (attention RAM)
    output wire                         coef_ce,
    input  wire [CW-1:0]                coef_q,
    output wire [RAW-1:0]               recip_address,
    output wire                         recip_ce,
    input  wire [RW-1:0]                recip_q,
    /* verilator lint_on UNUSEDSIGNAL */
    output wire [LAW-1:0]               lin_raddr,
    output wire                         lin_re,
    input  wire [F_OUT*LW-1:0]          lin_rdata,
    output reg                          out_we,
    output reg  [NW-1:0]                out_waddr,
    output wire [(CONCAT ? HEADS : 1)*F_OUT*OW-1:0] out_wdata,
    output reg  [NW-1:0]                rows_written
);
    localparam HO    = (CONCAT != 0) ? HEADS : 1;
    localparam FGW   = (FG > 1) ? $clog2(FG) : 1;
    localparam HW    = (HEADS > 1) ? $clog2(HEADS) : 1;
    localparam CSW   = CW + (C_SIGNED != 0 ? 0 : 1);
    localparam RSW   = RW + (R_SIGNED != 0 ? 0 : 1);
    localparam ASW   = AGG_W + (AGG_SIGNED != 0 ? 0 : 1);
    localparam GW    = P_AGG * ACC_W;         // one accumulator group
    localparam LPAD  = FG * P_AGG * LW;
    localparam ORW   = HO * FG * P_AGG * OW;  // padded output row
    localparam BDEP  = HO * FG;
    localparam BAW0  = (BDEP > 1) ? $clog2(BDEP) : 1;
    localparam BAW1  = (BAW0 > HW) ? BAW0 : HW;
    localparam BAW   = ((BAW1 > FGW) ? BAW1 : FGW) + 1;   // bias address: room for h and fg (+1: no empty replications)

    localparam integer FG_LAST_I = FG - 1;
    localparam integer H_LAST_I  = HEADS - 1;
    localparam integer HEADS_I   = HEADS;
    localparam integer FG_I      = FG;
    localparam integer TWO_I     = 2;
    localparam [FGW-1:0] FG_LAST = FG_LAST_I[FGW-1:0];
    localparam [HW-1:0]  H_LAST  = H_LAST_I[HW-1:0];
    localparam [LAW-1:0] HEADS_C = HEADS_I[LAW-1:0];
    localparam [BAW-1:0] FG_C    = FG_I[BAW-1:0];
    localparam [EW-1:0]  E_TWO   = TWO_I[EW-1:0];
    localparam [NW-1:0]  N_TWO   = TWO_I[NW-1:0];

    // ---- walker ------------------------------------------------------------------------------------
    localparam S_IDLE = 3'd0, S_INIT0 = 3'd1, S_INIT1 = 3'd2, S_INIT2 = 3'd3, S_RUN = 3'd4, S_DRAIN = 3'd5;
    reg [2:0]     state;
    reg [NW-1:0]  i;
    reg [HW-1:0]  h;
    reg [FGW-1:0] fg;
    reg           fin, node_first, pf_cap;
    reg [EW-1:0]  e, e_start, e_end, e_next;

    wire run     = (state == S_RUN);
    wire last_fg = (fg == FG_LAST);
    wire last_h  = (h == H_LAST);
    wire last_i  = (i == num_nodes - 1'b1);
    wire last_e  = (CSR_MUT != 0) ? (e + E_TWO >= e_end) : (e == e_end - 1'b1);
    wire [NW-1:0] i_pf = i + N_TWO;
    wire [EW-1:0] e_end_now = pf_cap ? row_ptr_q : e_next;

    assign row_ptr_address = (state == S_INIT0) ? {NW{1'b0}} : (state == S_INIT1) ? {{(NW-1){1'b0}}, 1'b1} : i_pf;
    assign row_ptr_ce      = (state == S_INIT0) | (state == S_INIT1) | (run & node_first & (i_pf <= num_nodes));

    wire busy;   // pipeline stages still hold steps (defined below)
    wire adv = ce | rst;   // registers with an inline reset advance in ce-cycles and on reset

    always @(posedge clk) begin
        if (rst) begin
            state <= S_IDLE;
            pf_cap <= 1'b0;
        end else if (ce) begin
            pf_cap <= run & node_first;
            if (pf_cap) e_next <= row_ptr_q;
            case (state)
                S_IDLE: if (start) state <= (num_nodes != {NW{1'b0}}) ? S_INIT0 : S_DRAIN;
                S_INIT0: state <= S_INIT1;
                S_INIT1: begin
                    e_start <= row_ptr_q;
                    e <= row_ptr_q;
                    state <= S_INIT2;
                end
                S_INIT2: begin
                    e_end <= row_ptr_q;
                    i <= {NW{1'b0}}; h <= {HW{1'b0}}; fg <= {FGW{1'b0}};
                    fin <= 1'b0; node_first <= 1'b1;
                    state <= S_RUN;
                end
                S_RUN: begin
                    node_first <= 1'b0;
                    if (!last_fg) begin
                        fg <= fg + 1'b1;
                    end else begin
                        fg <= {FGW{1'b0}};
                        if (!fin) begin
                            if (!last_e) e <= e + 1'b1;
                            else if (CONCAT != 0 || last_h) fin <= 1'b1;
                            else begin h <= h + 1'b1; e <= e_start; end
                        end else begin
                            fin <= 1'b0;
                            if (!last_h) begin
                                h <= h + 1'b1;
                                e <= e_start;
                            end else begin
                                h <= {HW{1'b0}};
                                node_first <= 1'b1;
                                e_start <= e_end;
                                e <= e_end;
                                e_end <= e_end_now;
                                if (last_i) state <= S_DRAIN;
                                else i <= i + 1'b1;
                            end
                        end
                    end
                end
                S_DRAIN: if (!busy) state <= S_IDLE;
                default: state <= S_IDLE;
            endcase
        end
    end

    wire first0   = ~fin & (e == e_start) & ((CONCAT != 0) | (h == {HW{1'b0}}));
    wire hfirst0  = ~fin & (e == e_start);   // first edge of each head (max of averaged heads)
    wire lastrow0 = fin & last_fg & last_h;

    assign col_idx_address = e[EAW-1:0];
    assign col_idx_ce      = run;
    assign coef_address    = e[EAW-1:0];
    assign coef_head       = h;
    assign coef_ce         = run & (HAS_COEF != 0);
    assign recip_address   = i[RAW-1:0];
    assign recip_ce        = run & (HAS_RECIP != 0);

    // ---- stage 1: col / coef / recip words valid; read the neighbour's linear row ---------------------
    reg           v1, fin1, first1, hfirst1, lastrow1;
    reg [NW-1:0]  i1;
    reg [HW-1:0]  h1;
    reg [FGW-1:0] fg1;
    always @(posedge clk) if (adv) begin
        v1 <= run & ~rst;
        fin1 <= fin; first1 <= first0; hfirst1 <= hfirst0; lastrow1 <= lastrow0; i1 <= i; h1 <= h; fg1 <= fg;
    end
    wire [LAW-1:0] col_e = {{(LAW-CIW){1'b0}}, col_idx_q};
    wire [LAW-1:0] h1_e  = {{(LAW-HW){1'b0}}, h1};
    assign lin_raddr = col_e * HEADS_C + h1_e;
    assign lin_re    = v1 & ~fin1;   // the products of finalise steps are not used

    // ---- stage 2: products lin * coef ---------------------------------------------------------------
    reg           v2, fin2, first2, hfirst2, lastrow2;
    reg [NW-1:0]  i2;
    reg [HW-1:0]  h2;
    reg [FGW-1:0] fg2;
    reg [CW-1:0]  coef2;
    reg [RW-1:0]  recip2;
    always @(posedge clk) if (adv) begin
        v2 <= v1 & ~rst;
        fin2 <= fin1; first2 <= first1; hfirst2 <= hfirst1; lastrow2 <= lastrow1; i2 <= i1; h2 <= h1; fg2 <= fg1;
        coef2 <= coef_q; recip2 <= recip_q;
    end
    wire [LPAD-1:0] lin_pad;
    generate
        if (LPAD > F_OUT * LW) begin : g_lpad
            assign lin_pad = {{(LPAD - F_OUT * LW){1'b0}}, lin_rdata};
        end else begin : g_lnopad
            assign lin_pad = lin_rdata;
        end
    endgenerate
    wire [P_AGG*LW-1:0] lsl = lin_pad[fg2 * (P_AGG * LW) +: P_AGG * LW];
    // Lint waiver: coef_s / recip_s are unused in layers without coefficients / mean reciprocals.
    /* verilator lint_off UNUSEDSIGNAL */
    wire signed [CSW-1:0] coef_s = (C_SIGNED != 0) ? {{(CSW-CW){coef2[CW-1]}}, coef2} : {{(CSW-CW){1'b0}}, coef2};
    /* verilator lint_on UNUSEDSIGNAL */

    reg                  v3, fin3, first3, hfirst3, lastrow3;
    reg [NW-1:0]         i3;
    reg [HW-1:0]         h3;
    reg [FGW-1:0]        fg3;
    reg [RW-1:0]         recip3;
    reg [P_AGG*PRW-1:0]  prod3;
    genvar gk;
    generate
        for (gk = 0; gk < P_AGG; gk = gk + 1) begin : g_prod
            wire [LW-1:0]          l   = lsl[gk*LW +: LW];
            wire signed [PRW-1:0]  l_e = (L_SIGNED != 0) ? {{(PRW-LW){l[LW-1]}}, l} : {{(PRW-LW){1'b0}}, l};
            if (HAS_COEF != 0) begin : g_c
                wire signed [PRW-1:0] c_e = {{(PRW-CSW){coef_s[CSW-1]}}, coef_s};
                always @(posedge clk) if (ce) prod3[gk*PRW +: PRW] <= l_e * c_e;
            end else begin : g_nc
                always @(posedge clk) if (ce) prod3[gk*PRW +: PRW] <= l_e;
            end
        end
    endgenerate
    always @(posedge clk) if (adv) begin
        v3 <= v2 & ~rst;
        fin3 <= fin2; first3 <= first2; hfirst3 <= hfirst2; lastrow3 <= lastrow2; i3 <= i2; h3 <= h2; fg3 <= fg2;
        recip3 <= recip2;
    end

    // ---- stage 3: accumulator ring ------------------------------------------------------------------
    // AGG_MAX: the first edge of a row (of each head) loads its product, later edges keep the larger value.
    // AGG_MAX over averaged heads: a second ring (hring, rotating with ring) sums the finished heads' maxima;
    // the first edge of head h > 0 adds head h-1's maximum to it, the finaliser takes ring + hring.
    localparam MAXSUM = (AGG_MAX != 0) && (HEAD_MEAN != 0);
    reg [FG*GW-1:0] ring;
    wire [GW-1:0]   head = ring[GW-1:0];
    wire [GW-1:0]   head_new;
    wire [GW-1:0]   head_fin;   // the finished group handed to the finaliser
    wire            load3 = MAXSUM ? hfirst3 : first3;
    wire            ring_en = v3 & (ce | (STALL_MUT != 0));   // STALL_MUT: the ring also moves in stalled cycles
    generate
        for (gk = 0; gk < P_AGG; gk = gk + 1) begin : g_acc
            wire signed [PRW-1:0]   p   = prod3[gk*PRW +: PRW];
            wire signed [ACC_W-1:0] p_e = {{(ACC_W-PRW){p[PRW-1]}}, p};
            wire signed [ACC_W-1:0] a   = head[gk*ACC_W +: ACC_W];
            if (AGG_MAX != 0) begin : g_max
                assign head_new[gk*ACC_W +: ACC_W] = (load3 || p_e > a) ? p_e : a;
            end else begin : g_add
                assign head_new[gk*ACC_W +: ACC_W] = load3 ? p_e : a + p_e;
            end
        end
        if (FG > 1) begin : g_ring
            always @(posedge clk) if (ring_en) ring <= {(fin3 ? head : head_new), ring[FG*GW-1:GW]};
        end else begin : g_ring1
            always @(posedge clk) if (ring_en) ring <= fin3 ? head : head_new;
        end
        if (MAXSUM) begin : g_hsum
            reg  [FG*GW-1:0] hring;
            wire [GW-1:0]    hhead = hring[GW-1:0];
            wire [GW-1:0]    hhead_new;
            for (gk = 0; gk < P_AGG; gk = gk + 1) begin : g_hs
                wire signed [ACC_W-1:0] sm = hhead[gk*ACC_W +: ACC_W];
                wire signed [ACC_W-1:0] a  = head[gk*ACC_W +: ACC_W];
                assign hhead_new[gk*ACC_W +: ACC_W] = first3 ? {ACC_W{1'b0}} : hfirst3 ? sm + a : sm;
                assign head_fin[gk*ACC_W +: ACC_W]  = sm + a;
            end
            if (FG > 1) begin : g_hring
                always @(posedge clk) if (ce && v3) hring <= {hhead_new, hring[FG*GW-1:GW]};
            end else begin : g_hring1
                always @(posedge clk) if (ce && v3) hring <= hhead_new;
            end
        end else begin : g_nohsum
            assign head_fin = head;
        end
    endgenerate

    reg           v4, lastrow4;
    reg [NW-1:0]  i4;
    reg [RW-1:0]  recip4;
    reg [GW-1:0]  fin4;
    always @(posedge clk) if (adv) begin
        v4 <= v3 & fin3 & ~rst;
        lastrow4 <= lastrow3; i4 <= i3; recip4 <= recip3;
        fin4 <= head_fin;
    end

    // bias ROM: word (h * FG + fg) holds P_AGG biases (concat) or word fg (shared by all heads)
    wire [P_AGG*BW-1:0] bias_q;
    generate
        if (HAS_BIAS != 0) begin : g_bias
            wire [BAW-1:0] fg3_e = {{(BAW-FGW){1'b0}}, fg3};
            wire [BAW-1:0] h3_e  = {{(BAW-HW){1'b0}}, h3};
            wire [BAW-1:0] baddr = (CONCAT != 0) ? h3_e * FG_C + fg3_e : fg3_e;
            lpg_rom #(.W(P_AGG*BW), .D(BDEP), .AW(BAW), .INIT_FILE(BIAS_FILE)) u_brom (
                .clk(clk), .ce(ce), .addr(baddr), .q(bias_q));
        end else begin : g_nobias
            assign bias_q = {P_AGG*BW{1'b0}};
        end
    endgenerate

    // ---- stage 4: mean reciprocal ---------------------------------------------------------------------
    /* verilator lint_off UNUSEDSIGNAL */
    wire signed [RSW-1:0] recip_s = (R_SIGNED != 0) ? {{(RSW-RW){recip4[RW-1]}}, recip4} : {{(RSW-RW){1'b0}}, recip4};
    /* verilator lint_on UNUSEDSIGNAL */
    reg                  v5, lastrow5;
    reg [NW-1:0]         i5;
    reg [P_AGG*M_W-1:0]  m5;
    reg [P_AGG*BW-1:0]   bias5;
    generate
        for (gk = 0; gk < P_AGG; gk = gk + 1) begin : g_mean
            wire signed [ACC_W-1:0] a   = fin4[gk*ACC_W +: ACC_W];
            wire signed [M_W-1:0]   a_e = {{(M_W-ACC_W){a[ACC_W-1]}}, a};
            if (HAS_RECIP != 0) begin : g_r
                wire signed [M_W-1:0] r_e = {{(M_W-RSW){recip_s[RSW-1]}}, recip_s};
                always @(posedge clk) if (ce) m5[gk*M_W +: M_W] <= a_e * r_e;
            end else begin : g_nr
                always @(posedge clk) if (ce) m5[gk*M_W +: M_W] <= a_e;
            end
        end
    endgenerate
    always @(posedge clk) if (adv) begin
        v5 <= v4 & ~rst;
        lastrow5 <= lastrow4; i5 <= i4;
        bias5 <= bias_q;
    end

    // ---- stage 5: head mean and bias -------------------------------------------------------------------
    localparam signed [V_W-1:0] HREC = HEADREC;
    reg                 v6, lastrow6;
    reg [NW-1:0]        i6;
    reg [P_AGG*V_W-1:0] v6d;
    generate
        for (gk = 0; gk < P_AGG; gk = gk + 1) begin : g_bias_add
            wire signed [M_W-1:0] m   = m5[gk*M_W +: M_W];
            wire signed [V_W-1:0] m_e = {{(V_W-M_W){m[M_W-1]}}, m};
            wire signed [V_W-1:0] hm  = (HEAD_MEAN != 0) ? m_e * HREC : m_e;
            wire signed [BW-1:0]  b   = bias5[gk*BW +: BW];
            wire signed [V_W-1:0] b_e = {{(V_W-BW){b[BW-1]}}, b};
            always @(posedge clk) if (ce) v6d[gk*V_W +: V_W] <= hm + ((HAS_BIAS != 0) ? (b_e <<< BIAS_SHIFT) : {V_W{1'b0}});
        end
    endgenerate
    always @(posedge clk) if (adv) begin
        v6 <= v5 & ~rst;
        lastrow6 <= lastrow5; i6 <= i5;
    end

    // ---- stage 6: requant -> activation -> requant; output row ------------------------------------------
    wire [P_AGG*OW-1:0] o_grp;
    generate
        for (gk = 0; gk < P_AGG; gk = gk + 1) begin : g_out
            wire [AGG_W-1:0]      a;
            lpg_requant #(.IN_W(V_W), .SHIFT(AGG_SHIFT), .OUT_W(AGG_W), .OUT_SIGNED(AGG_SIGNED), .ROUND(ROUND)) u_agg (
                .d(v6d[gk*V_W +: V_W]), .q(a));
            wire signed [ASW-1:0] act;
            lpg_act #(.AGG_W(AGG_W), .AGG_SIGNED(AGG_SIGNED), .ACT(ACT), .LEAKY(LEAKY), .LEAKY_FRAC(LEAKY_FRAC),
                      .R6MAX(R6MAX), .TSHIFT(TSHIFT), .THB(THB), .TD(TD), .TABLE_FILE(TABLE_FILE)) u_act (
                .a(a), .y(act));
            lpg_requant #(.IN_W(ASW), .SHIFT(OUT_SHIFT), .OUT_W(OW), .OUT_SIGNED(O_SIGNED), .ROUND(ROUND)) u_out (
                .d(act), .q(o_grp[gk*OW +: OW]));
        end
    endgenerate

    // Lint waiver: padding lanes (features beyond F_OUT in a head's last group) are dropped.
    /* verilator lint_off UNUSEDSIGNAL */
    reg [ORW-1:0] orow;
    /* verilator lint_on UNUSEDSIGNAL */
    generate
        if (HO * FG > 1) begin : g_orow_shift
            always @(posedge clk) if (ce && v6) orow <= {o_grp, orow[ORW-1:P_AGG*OW]};
        end else begin : g_orow_one
            always @(posedge clk) if (ce && v6) orow <= o_grp;
        end
        for (gk = 0; gk < HO; gk = gk + 1) begin : g_compact
            assign out_wdata[gk*F_OUT*OW +: F_OUT*OW] = orow[gk*FG*P_AGG*OW +: F_OUT*OW];
        end
    endgenerate
    always @(posedge clk) if (adv) begin
        out_we <= v6 & lastrow6 & ~rst;
        out_waddr <= i6;
    end
    // rows in node order: row rows_written - 1 is in the buffer from the cycle after its write
    always @(posedge clk) begin
        if (rst || (ce && start)) rows_written <= {NW{1'b0}};
        else if (ce && out_we) rows_written <= rows_written + 1'b1;
    end

    // ---- done: one-cycle pulse once the last row is written ---------------------------------------------
    assign busy = v1 | v2 | v3 | v4 | v5 | v6 | out_we;
    always @(posedge clk) if (adv) done <= ~rst & (state == S_DRAIN) & ~busy;
endmodule
